using Smec.Core.Metrics;
using Smec.Core.Retrieval;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Analysis;

/// <summary>
/// Catalog item 9: how important each embedding dim is, measured on validation queries only (the
/// train queries held out for early stopping; never the test split), and which share of the most
/// important dims a selection keeps.
/// </summary>
public static class DimensionImportance
{
    /// <summary>
    /// Per dim: validation nDCG@10 with every dim minus nDCG@10 with that dim zeroed in queries and
    /// docs (cosine search, so the rest is renormalised). Positive = the dim helps retrieval.
    /// </summary>
    public static double[] ValidationNdcgDrop(TrainingSet set, IProgress<int>? progress = null)
    {
        var queryIds = set.ValidationQueryRows.Select(r => set.Data.Queries.Ids[r]).ToArray();
        if (queryIds.Length == 0) throw new InvalidOperationException("dimension importance needs validation queries with judgements");
        var evaluator = new RetrievalEvaluator(queryIds, set.Data.Corpus.Ids, set.Data.Validation, [Measure.Ndcg10]);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var queries = set.Queries.index_select(0, tensor(set.ValidationQueryRows.Select(r => (long)r).ToArray()));
        var corpus = set.Corpus;
        var full = evaluator.Evaluate(queries, corpus).Mean(Measure.Ndcg10);
        var drops = new double[set.Dim];
        for (var dim = 0; dim < set.Dim; dim++)
        {
            using var inner = NewDisposeScope();
            var keep = ones(set.Dim);
            keep[dim] = 0f;
            drops[dim] = full - evaluator.Evaluate(queries * keep, corpus * keep).Mean(Measure.Ndcg10);
            progress?.Report(dim + 1);
        }
        return drops;
    }

    /// <summary>The <paramref name="count"/> most important dims. Equal importance (common: zeroing one
    /// of hundreds of dims often leaves nDCG@10 unchanged) is broken at random with
    /// <paramref name="tieSeed"/>, so neither the prefix nor any other selection is favoured; without a
    /// seed the lower index ranks first.</summary>
    public static int[] MostImportant(IReadOnlyList<double> importance, int count, int? tieSeed = null)
    {
        if (count < 1 || count > importance.Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"asked for the {count} most important of {importance.Count} dims");
        var tieKey = new double[importance.Count];
        if (tieSeed is { } seed)
        {
            var random = new Random(seed);
            for (var i = 0; i < tieKey.Length; i++) tieKey[i] = random.NextDouble();
        }
        else for (var i = 0; i < tieKey.Length; i++) tieKey[i] = i;
        return importance.Select((value, index) => (value, index))
            .OrderByDescending(x => x.value).ThenBy(x => tieKey[x.index])
            .Take(count).Select(x => x.index).ToArray();
    }

    /// <summary>Share (0..1) of the d = |selected| most important dims that the selection contains.</summary>
    public static double KeptShare(IReadOnlyList<double> importance, IReadOnlyCollection<long> selected, int? tieSeed = null)
    {
        if (selected.Distinct().Count() != selected.Count) throw new ArgumentException("the selection repeats a dim");
        if (selected.Any(i => i < 0 || i >= importance.Count))
            throw new ArgumentOutOfRangeException(nameof(selected), $"a selected dim lies outside 0..{importance.Count - 1}");
        var important = MostImportant(importance, selected.Count, tieSeed).Select(i => (long)i).ToHashSet();
        return (double)selected.Count(important.Contains) / selected.Count;
    }
}
