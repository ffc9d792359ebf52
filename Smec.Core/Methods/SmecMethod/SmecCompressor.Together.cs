using Smec.Core.Runtime;
using Smec.Core.Training;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// MRL's fit of many (<see cref="IEnsembleFit"/>): K MRL compressors built with the same options (their
/// experiments differ only in seed, or in a fold's training data) fitted together. Each member is set up
/// as <see cref="Fit"/> sets it up (seeded, its chain, its PCA start), then every grid point (loss form)
/// trains all K members as one <see cref="MrlEnsemble"/>, each member from its own start with its own
/// loop seed, and each member records and keeps its points exactly as Fit does (the same
/// <see cref="StepSearch"/>). SMEC proper (SMRL, ADS or S-XBM on) and the residual-MLP form are not
/// expressed here: they say so, and are fitted alone.
/// </summary>
public sealed partial class SmecCompressor : IEnsembleFit
{
    public string? CannotFitTogether(IReadOnlyList<ICompressor> members)
    {
        if (MrlEnsemble.Unsupported(Options) is { } why) return why;
        var options = Options.Describe();
        var training = Training.Describe();
        for (var k = 0; k < members.Count; k++)
        {
            if (members[k] is not SmecCompressor member) return $"member {k} is {members[k].Name} ({members[k].GetType().Name}), not MRL";
            if (member.Training.CheckpointPath is not null) return $"member {k} checkpoints its fit; an ensemble does not checkpoint (fit it alone)";
            if (member._savedSettings is not null) return $"member {k} is a loaded model; build it from the method registry to fit it";
            if (SettingsDifferences.Between(options, member.Options.Describe()) is { } optionDiff) return $"member {k}'s options differ from member 0's: {optionDiff}";
            if (SettingsDifferences.Between(training, member.Training.Describe()) is { } trainingDiff) return $"member {k}'s training options differ from member 0's: {trainingDiff}";
        }
        return null;
    }

    public void FitTogether(IReadOnlyList<ICompressor> members, IReadOnlyList<TrainingData> data)
    {
        if (CannotFitTogether(members) is { } why) throw new ArgumentException($"MRL fit together: {why}");
        if (data.Count != members.Count) throw new ArgumentException($"MRL fit together: {data.Count} training data for {members.Count} members; expected one per member");
        var all = members.Cast<SmecCompressor>().ToArray();
        var sets = new List<TrainingSet>();
        try
        {
            var searches = new StepSearch[all.Length];
            for (var k = 0; k < all.Length; k++)
            {
                // As Fit: seeded, a fresh chain, the training set, then the one layer at its start.
                var member = all[k];
                Determinism.Seed(data[k].Seed);
                if (data[k].Corpus.Dim != member.Options.InputDim)
                    throw new ArgumentException($"SMEC ladder starts at {member.Options.InputDim} dims but member {k}'s embeddings have {data[k].Corpus.Dim}");
                member.Chain = new SmecChain(member.Options.StepInput, member.Options.DimSource);
                member._savedSettings = null;
                member.StepRecords.Clear();
                member.TrainingRuns.Clear();
                sets.Add(new TrainingSet(data[k], member.Training.HardNegativePool));
                searches[k] = new StepSearch(member, sets[k], member.Options.InputDim, member.Options.TrainedLadder[1..]);
            }
            for (var i = 0; i < searches[0].Grid.Length; i++)
            {
                for (var k = 0; k < all.Length; k++) searches[k].Reset(i);
                var training = searches[0].Training(i);
                var results = MrlEnsemble.Train(
                    Enumerable.Range(0, all.Length).Select(k => new MrlMember(searches[k].Step, sets[k], searches[k].LoopSeed(data[k].Seed), searches[k].Grid[i].Form)).ToArray(),
                    Options, training with { Label = $"{training.Label} (ensemble of {all.Length})" });
                for (var k = 0; k < all.Length; k++) searches[k].Record(i, results[k]);
            }
            for (var k = 0; k < all.Length; k++)
            {
                searches[k].Finish();
                all[k].ChooseSourcesOnValidation(sets[k]);
            }
        }
        finally
        {
            foreach (var set in sets) set.Dispose();
        }
    }
}
