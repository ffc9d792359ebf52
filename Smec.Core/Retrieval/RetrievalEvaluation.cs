using Smec.Core.Data;
using Smec.Core.Metrics;
using Smec.Core.Storage;

namespace Smec.Core.Retrieval;

/// <summary>
/// One call from embeddings to trec_eval figures: exact search of every query that has qrels over
/// the documents, then the measures. For repeated evaluation of the same ids (early stopping),
/// build a <see cref="RetrievalEvaluator"/> once instead.
/// </summary>
public static class RetrievalEvaluation
{
    /// <summary>The measures the harness reports by default: nDCG@10 (headline), nDCG@100, recall@100, MRR@10, MAP@100.</summary>
    public static IReadOnlyList<Measure> StandardMeasures { get; } =
        [Measure.RecipRankAt(10), Measure.RecallAt(100), Measure.NdcgCut(10), Measure.NdcgCut(100), Measure.MapCut(100)];

    public static EvaluationResult Evaluate(EmbeddingMatrix queries, EmbeddingMatrix docs, Qrels qrels,
        IReadOnlyList<Measure> measures, SearchOptions? options = null, int? depth = null) =>
        new RetrievalEvaluator(queries.Ids, docs.Ids, qrels, measures, options, depth).Evaluate(queries, docs);

    /// <summary>Mean nDCG@10 (trec_eval ndcg_cut.10) over the queries that have qrels.</summary>
    public static double NdcgAt10(EmbeddingMatrix queries, EmbeddingMatrix docs, Qrels qrels, SearchOptions? options = null) =>
        Evaluate(queries, docs, qrels, [Measure.Ndcg10], options).Mean(Measure.Ndcg10);
}
