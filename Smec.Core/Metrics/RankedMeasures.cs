namespace Smec.Core.Metrics;

/// <summary>
/// The measures of one ranked list, given the relevance of each retrieved document in rank order
/// (0 for unjudged) and the query's <see cref="QueryRelevance"/>. Allocation-free: every
/// evaluation path (TREC runs, exact search, class labels) ends here.
/// trec_eval semantics: relevant means relevance &gt;= 1; nDCG gain is the relevance value when
/// positive; P@k divides by k even when fewer than k documents were retrieved; recall and MAP
/// divide by all relevant judged documents (0 when the query has none).
/// </summary>
public static class RankedMeasures
{
    private static readonly double[] DiscountTable = BuildDiscounts(1024);

    private static double[] BuildDiscounts(int n)
    {
        var table = new double[n];
        for (var i = 0; i < n; i++) table[i] = 1.0 / Math.Log2(i + 2);
        return table;
    }

    /// <summary>1/log2(rank+1) for the 0-based position (rank = position + 1).</summary>
    public static double Discount(int position) =>
        position < DiscountTable.Length ? DiscountTable[position] : 1.0 / Math.Log2(position + 2);

    public static double Compute(Measure measure, ReadOnlySpan<int> relevanceByRank, QueryRelevance query)
    {
        var depth = measure.Cutoff == 0 ? relevanceByRank.Length : Math.Min(measure.Cutoff, relevanceByRank.Length);
        var ranked = relevanceByRank[..depth];
        return measure.Kind switch
        {
            MeasureKind.Ndcg => Ndcg(ranked, query, measure.Cutoff),
            MeasureKind.Precision => (double)CountRelevant(ranked) / measure.Cutoff,
            MeasureKind.Recall => query.RelevantCount == 0 ? 0.0 : (double)CountRelevant(ranked) / query.RelevantCount,
            MeasureKind.MapCut => AveragePrecision(ranked, query.RelevantCount),
            MeasureKind.RecipRank => ReciprocalRank(ranked),
            _ => throw new InvalidOperationException($"unknown measure kind {measure.Kind}"),
        };
    }

    private static int CountRelevant(ReadOnlySpan<int> ranked)
    {
        var count = 0;
        foreach (var r in ranked) if (r >= 1) count++;
        return count;
    }

    private static double Ndcg(ReadOnlySpan<int> ranked, QueryRelevance query, int k)
    {
        var ideal = query.IdealDcg(k);
        if (ideal <= 0) return 0.0;
        var dcg = 0.0;
        for (var i = 0; i < ranked.Length; i++)
            if (ranked[i] > 0) dcg += ranked[i] * Discount(i);
        return dcg / ideal;
    }

    private static double AveragePrecision(ReadOnlySpan<int> ranked, int relevantCount)
    {
        if (relevantCount == 0) return 0.0;
        var found = 0;
        var sum = 0.0;
        for (var i = 0; i < ranked.Length; i++)
            if (ranked[i] >= 1) sum += (double)++found / (i + 1);
        return sum / relevantCount;
    }

    private static double ReciprocalRank(ReadOnlySpan<int> ranked)
    {
        for (var i = 0; i < ranked.Length; i++)
            if (ranked[i] >= 1) return 1.0 / (i + 1);
        return 0.0;
    }
}
