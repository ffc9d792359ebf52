namespace Smec.Core.Metrics;

/// <summary>
/// What the measures need to know about one query's judgements, independent of the ranking:
/// how many documents are relevant (relevance &gt;= 1, trec_eval's default relevance_level) and
/// the positive gains in descending order (the ideal ranking for nDCG). Judged documents that are
/// never retrieved still count here, as in trec_eval.
/// </summary>
public sealed class QueryRelevance
{
    public int RelevantCount { get; }
    /// <summary>Positive relevance values, largest first.</summary>
    public int[] IdealGains { get; }

    public QueryRelevance(IEnumerable<int> judgedRelevances)
    {
        var gains = judgedRelevances.Where(r => r > 0).ToArray();
        Array.Sort(gains, (a, b) => b.CompareTo(a));
        IdealGains = gains;
        RelevantCount = gains.Length; // integer relevance: >= 1 is the same as > 0
    }

    public static readonly QueryRelevance None = new([]);

    /// <summary>Binary relevance with the given number of relevant documents (class-label retrieval).</summary>
    public static QueryRelevance Binary(int relevantCount) => new(Enumerable.Repeat(1, relevantCount));

    /// <summary>DCG of the ideal ranking cut at k.</summary>
    public double IdealDcg(int k)
    {
        var sum = 0.0;
        var n = Math.Min(k, IdealGains.Length);
        for (var i = 0; i < n; i++) sum += IdealGains[i] * RankedMeasures.Discount(i);
        return sum;
    }
}
