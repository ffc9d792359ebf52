using Smec.Core.Data;
using Smec.Core.Retrieval;

namespace Smec.Core.Metrics;

/// <summary>
/// trec_eval over an in-memory <see cref="Run"/>: each query's documents are re-ranked by
/// <see cref="TrecOrder"/>; queries present in both run and qrels are evaluated and averaged.
/// </summary>
public static class RunEvaluator
{
    /// <param name="ignoreIdenticalIds">Drop documents whose id equals the query id (BEIR's ignore_identical_ids).</param>
    public static EvaluationResult Evaluate(Run run, Qrels qrels, IReadOnlyList<Measure> measures, bool ignoreIdenticalIds = false)
    {
        if (measures.Count == 0) throw new ArgumentException("no measures to evaluate", nameof(measures));
        var queryIds = run.QueryIds.Where(qrels.HasQuery).Order(StringComparer.Ordinal).ToArray();
        var values = new double[queryIds.Length * measures.Count];
        var relevance = new List<int>();
        var ranked = new List<ScoredDoc>();
        for (var q = 0; q < queryIds.Length; q++)
        {
            var queryId = queryIds[q];
            var judgements = qrels.ForQuery(queryId);
            ranked.Clear();
            foreach (var doc in run.ForQuery(queryId))
                if (!(ignoreIdenticalIds && doc.DocId == queryId)) ranked.Add(doc);
            ranked.Sort(static (a, b) => TrecOrder.Compare(a.Score, a.DocId, b.Score, b.DocId));
            relevance.Clear();
            foreach (var doc in ranked) relevance.Add(judgements.TryGetValue(doc.DocId, out var r) ? r : 0);
            var profile = new QueryRelevance(judgements.Values);
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(relevance);
            for (var m = 0; m < measures.Count; m++)
                values[q * measures.Count + m] = RankedMeasures.Compute(measures[m], span, profile);
        }
        return new EvaluationResult(measures, queryIds, values);
    }
}
