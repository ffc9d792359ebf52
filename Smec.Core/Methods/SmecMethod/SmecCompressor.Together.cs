using Smec.Core.Runtime;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// SMEC's fit of many (<see cref="IEnsembleFit"/>): K SMEC compressors built with the same options (their
/// experiments differ only in seed, or in a fold's training data) fitted together. Each member is set up
/// as <see cref="Fit"/> sets it up (seeded, a fresh chain, its training set), then the ladder is trained
/// as Fit trains it, step by step: each member adds the step to its own chain (its input is its own
/// earlier steps' output, so its later steps depend on its own earlier choices), every grid point (loss
/// form x ADS initialisation) trains all K members' step as one ensemble, each member from its own start
/// with its own loop seed (<see cref="MrlEnsemble"/> for MRL: SMRL, ADS and S-XBM off; otherwise
/// <see cref="SmecStepEnsemble"/>, each member with its own ADS noise and S-XBM memory), and each member
/// records its points and keeps its step exactly as Fit does (the same <see cref="StepSearch"/>) before
/// the next step starts. Last, each member chooses its duplicated dims' sources on validation.
/// S-XBM's anchor-cosine table is built once for all members (<see cref="SharedCosines"/>) and serves
/// every step and grid point, as a member's own table serves them in Fit.
/// Both function classes are (a residual-MLP member's MLP trains beside its layer, <see cref="StepMlps"/>).
/// Not expressed here (said, and fitted alone): residual steps, the similarity term, docs as S-XBM
/// anchors, checkpoints.
/// </summary>
public sealed partial class SmecCompressor : IEnsembleFit
{
    /// <summary>MRL: SMRL, ADS and S-XBM off (one layer, trained by <see cref="MrlEnsemble"/> together).</summary>
    private bool IsMrl => !Options.Smrl && !Options.Ads && !Options.Sxbm;

    public string? CannotFitTogether(IReadOnlyList<ICompressor> members)
    {
        if ((IsMrl ? MrlEnsemble.Unsupported(Options) : SmecStepEnsemble.Unsupported(Options)) is { } why) return why;
        var options = Options.Describe();
        var training = Training.Describe();
        for (var k = 0; k < members.Count; k++)
        {
            if (members[k] is not SmecCompressor member) return $"member {k} is {members[k].Name} ({members[k].GetType().Name}), not {Name}";
            if (member.Training.CheckpointPath is not null) return $"member {k} checkpoints its fit; an ensemble does not checkpoint (fit it alone)";
            if (member._savedSettings is not null) return $"member {k} is a loaded model; build it from the method registry to fit it";
            if (SettingsDifferences.Between(options, member.Options.Describe()) is { } optionDiff) return $"member {k}'s options differ from member 0's: {optionDiff}";
            if (SettingsDifferences.Between(training, member.Training.Describe()) is { } trainingDiff) return $"member {k}'s training options differ from member 0's: {trainingDiff}";
        }
        return null;
    }

    public void FitTogether(IReadOnlyList<ICompressor> members, IReadOnlyList<TrainingData> data)
    {
        if (CannotFitTogether(members) is { } why) throw new ArgumentException($"{Name} fit together: {why}");
        if (data.Count != members.Count) throw new ArgumentException($"{Name} fit together: {data.Count} training data for {members.Count} members; expected one per member");
        var all = members.Cast<SmecCompressor>().ToArray();
        var sets = new List<TrainingSet>();
        using var generatorStates = new MemberRandomStates(all.Length);
        ItemCosines? cosines = null;
        try
        {
            for (var k = 0; k < all.Length; k++)
            {
                // As Fit: seeded, a fresh chain, the training set.
                var member = all[k];
                Determinism.Seed(data[k].Seed);
                if (data[k].Corpus.Dim != member.Options.InputDim)
                    throw new ArgumentException($"SMEC ladder starts at {member.Options.InputDim} dims but member {k}'s embeddings have {data[k].Corpus.Dim}");
                member.Chain = new SmecChain(member.Options.StepInput, member.Options.DimSource);
                member._savedSettings = null;
                member.StepRecords.Clear();
                member.TrainingRuns.Clear();
                sets.Add(new TrainingSet(data[k], member.Training.HardNegativePool));
                generatorStates.Keep(k);
            }
            cosines = SharedCosines(sets, Options);
            var seeds = data.Select(d => d.Seed).ToArray();
            var ladder = Options.TrainedLadder;
            if (Options.Smrl)
                for (var s = 1; s < ladder.Length; s++) TrainStepTogether(all, sets, seeds, generatorStates, cosines, ladder[s - 1], [ladder[s]]);
            else
                TrainStepTogether(all, sets, seeds, generatorStates, cosines, Options.InputDim, ladder[1..]);
            for (var k = 0; k < all.Length; k++) all[k].ChooseSourcesOnValidation(sets[k]);
        }
        finally
        {
            cosines?.Dispose();
            foreach (var set in sets) set.Dispose();
        }
    }

    /// <summary>
    /// S-XBM's anchor-cosine table for members training on <paramref name="sets"/> (one dataset and encoder):
    /// one table whose rows are the union of the members' anchors (a row does not depend on which others are
    /// built, so each member looks up what its own table holds), counted once per ensemble by
    /// <see cref="EnsembleSizing.CosineTableBytes"/>. Null without S-XBM, or over <see cref="ItemCosines.BudgetBytes"/>
    /// (the memories then multiply, as a member alone over budget does).
    /// </summary>
    public static ItemCosines? SharedCosines(IReadOnlyList<TrainingSet> sets, SmecOptions options)
    {
        if (!options.Sxbm || sets.Count == 0) return null;
        using var items = SmrlStepObjective.Items(sets[0]);
        return ItemCosines.TryBuild(items, sets.SelectMany(s => SmrlStepObjective.AnchorItems(s, options)).Distinct().ToArray());
    }

    /// <summary>One step of every member's ladder, as <see cref="TrainStep"/> trains it alone: each member's step
    /// added to its own chain, every grid point trained for all members at once, then each member keeps its step.</summary>
    private static void TrainStepTogether(SmecCompressor[] all, IReadOnlyList<TrainingSet> sets, long[] seeds, MemberRandomStates generatorStates,
        ItemCosines? cosines, int outputDim, int[] selectionDims)
    {
        var searches = new StepSearch[all.Length];
        // A step's layer is built from torch's global generator (LayerInit Random keeps what it draws): each member
        // builds its own with its own generator state, as it would alone.
        for (var k = 0; k < all.Length; k++) searches[k] = generatorStates.As(k, () => new StepSearch(all[k], sets[k], outputDim, selectionDims));
        var options = all[0].Options;
        for (var i = 0; i < searches[0].Grid.Length; i++)
        {
            for (var k = 0; k < all.Length; k++) searches[k].Reset(i);
            var training = searches[0].Training(i);
            training = training with { Label = $"{training.Label} (ensemble of {all.Length})" };
            var members = Enumerable.Range(0, all.Length);
            var results = all[0].IsMrl
                ? MrlEnsemble.Train(members.Select(k => new MrlMember(searches[k].Step, sets[k], searches[k].LoopSeed(seeds[k]), searches[k].Grid[i].Form)).ToArray(),
                    options, training)
                : SmecStepEnsemble.Train(members.Select(k => new SmecStepMember(all[k].Chain, searches[k].Index, sets[k], searches[k].LoopSeed(seeds[k]), searches[k].Grid[i].Form)).ToArray(),
                    options, training, cosines);
            for (var k = 0; k < all.Length; k++) searches[k].Record(i, results[k]);
        }
        // Finish builds per-dim snapshots (modules, from the global generator too).
        for (var k = 0; k < all.Length; k++) generatorStates.As(k, () => { searches[k].Finish(); return 0; });
    }

    /// <summary>
    /// Each member's state of torch's global generator between its turns: Fit alone draws a member's modules
    /// (its steps' layers, its per-dim snapshots) one after another from the generator its seed set; together,
    /// the members take turns, so each turn starts from the member's own state and keeps where it ended.
    /// </summary>
    private sealed class MemberRandomStates(int members) : IDisposable
    {
        private readonly Tensor?[] _states = new Tensor?[members];

        /// <summary>Keep the generator's state now as member <paramref name="k"/>'s.</summary>
        public void Keep(int k)
        {
            _states[k]?.Dispose();
            _states[k] = random.get_rng_state();
        }

        /// <summary>Run <paramref name="turn"/> from member <paramref name="k"/>'s state, and keep where it ends.</summary>
        public T As<T>(int k, Func<T> turn)
        {
            random.set_rng_state(_states[k] ?? throw new InvalidOperationException($"member {k}'s generator state was never kept"));
            var result = turn();
            Keep(k);
            return result;
        }

        public void Dispose()
        {
            foreach (var state in _states) state?.Dispose();
        }
    }
}
