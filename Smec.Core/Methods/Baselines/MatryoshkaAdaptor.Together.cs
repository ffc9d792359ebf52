using System.Globalization;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using Smec.Core.Training;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Matryoshka-Adaptor's fit of many (<see cref="IEnsembleFit"/>): K compressors built with the same options (their
/// experiments differ only in seed, or in a fold's judgements) fitted together. Each member starts as
/// <see cref="Fit"/> starts it (seeded, its starting adaptor); the corpus-only stage trains all K as one
/// <see cref="MatryoshkaAdaptorCorpusEnsemble"/>; then each ranking-loss form trains all K as one
/// <see cref="MatryoshkaAdaptorEnsemble"/>, each member from its own unsupervised state with its own training set
/// and seed; and each member records, chooses and scores with the same <see cref="SupervisedSearch"/> and
/// <see cref="Finish"/> as alone. Not expressed (said, so the members are fitted alone): query anchors
/// (option query_anchors), members whose options differ, and loaded models. Matryoshka-Adaptor never checkpoints.
/// </summary>
public sealed partial class MatryoshkaAdaptor : IEnsembleFit
{
    public string? CannotFitTogether(IReadOnlyList<ICompressor> members)
    {
        if (_options.QueryAnchors != 0)
            return $"option query_anchors is {_options.QueryAnchors}: the ensembles train corpus anchors only (query_anchors=0); each fold's query anchors are not batched";
        var options = TogetherDescription(_options);
        for (var k = 0; k < members.Count; k++)
        {
            if (members[k] is not MatryoshkaAdaptor member) return $"member {k} is {members[k].Name} ({members[k].GetType().Name}), not Matryoshka-Adaptor";
            if (member._loaded) return $"member {k} is a loaded model; build it from the method registry to fit it";
            if (SettingsDifferences.Between(options, TogetherDescription(member._options)) is { } optionDiff) return $"member {k}'s options differ from member 0's: {optionDiff}";
            if (!member.Dims.SequenceEqual(Dims)) return $"member {k} serves dims [{string.Join(", ", member.Dims)}], member 0 [{string.Join(", ", Dims)}]";
        }
        return null;
    }

    /// <summary>The options as the members must share them: Describe() (which holds every option that changes a fit,
    /// the learning rate in "optimizer") and the two it leaves out, the hidden width and the forms tried when no candidates are listed.</summary>
    private static IReadOnlyDictionary<string, string> TogetherDescription(MatryoshkaAdaptorOptions options)
    {
        var described = options.Describe().ToDictionary(kv => kv.Key, kv => kv.Value);
        described["hidden_dim"] = options.HiddenDim?.ToString(CultureInfo.InvariantCulture) ?? "auto";
        if (options.Supervised)
            described["ranking loss forms tried"] = string.Join(", ", options.RankingLossCandidates.Count > 0 ? options.RankingLossCandidates : [options.RankingLoss]);
        return described;
    }

    public void FitTogether(IReadOnlyList<ICompressor> members, IReadOnlyList<TrainingData> data)
    {
        if (CannotFitTogether(members) is { } why) throw new ArgumentException($"{Name} fit together: {why}");
        if (data.Count != members.Count) throw new ArgumentException($"{Name} fit together: {data.Count} training data for {members.Count} members; expected one per member");
        for (var k = 1; k < data.Count; k++)
            if (!SameEmbeddings(data[k].Corpus, data[0].Corpus) || (_options.Supervised && !SameEmbeddings(data[k].Queries, data[0].Queries)))
                throw new ArgumentException($"{Name} fit together: member {k}'s corpus or query embeddings are not member 0's; " +
                    "expected the members of one dataset and encoder (they may differ in seed and judgements only)");
        var all = members.Cast<MatryoshkaAdaptor>().ToArray();
        // As Fit: each member seeded with its data's seed, then its starting adaptor drawn.
        var trainedDims = all.Select((member, k) => member.Begin(data[k])).ToArray();
        var corpusResults = MatryoshkaAdaptorCorpusEnsemble.Train(
            all.Select((member, k) => new MatryoshkaAdaptorCorpusMember(member._adaptor!, member._options, data[k].Seed)).ToArray(), data[0].Corpus, Dims);
        for (var k = 0; k < all.Length; k++) all[k].RecordUnsupervised(corpusResults[k]);
        var sets = new TrainingSet?[all.Length];
        try
        {
            for (var k = 0; k < all.Length; k++)
                sets[k] = all[k].NeedsTrainingSet(data[k]) ? new TrainingSet(data[k], all[k]._options.HardNegativePool) : null;
            var outcomes = _options.Supervised ? FitSupervisedTogether(all, sets.Select(set => set!).ToArray(), data) : new SupervisedOutcome?[all.Length];
            for (var k = 0; k < all.Length; k++) all[k].Finish(sets[k], outcomes[k], trainedDims[k]);
        }
        finally
        {
            foreach (var set in sets) set?.Dispose();
        }
    }

    /// <summary>The supervised stage of every member: each ranking-loss form trained for all members as one ensemble,
    /// each member resetting to its unsupervised state before it and recording after it as alone.</summary>
    private static SupervisedOutcome[] FitSupervisedTogether(MatryoshkaAdaptor[] all, TrainingSet[] sets, IReadOnlyList<TrainingData> data)
    {
        var searches = all.Select(member => new SupervisedSearch(member)).ToArray();
        foreach (var form in searches[0].Forms)
        {
            foreach (var search in searches) search.Reset();
            var results = MatryoshkaAdaptorEnsemble.Train(
                all.Select((member, k) => new MatryoshkaAdaptorMember(member._adaptor!, searches[k].OptionsFor(form), sets[k], data[k].Seed)).ToArray(), all[0].Dims);
            for (var k = 0; k < all.Length; k++) searches[k].Record(form, results[k]);
        }
        return searches.Select(search => search.Finish()).ToArray();
    }

    /// <summary>The same embeddings: the same matrix, or the same ids and values.</summary>
    private static bool SameEmbeddings(EmbeddingMatrix a, EmbeddingMatrix b) =>
        ReferenceEquals(a, b) || (a.Dim == b.Dim && a.Ids.SequenceEqual(b.Ids) && a.Values.AsSpan().SequenceEqual(b.Values));
}
