using Smec.Core.Data;
using Smec.Core.Metrics;
using Smec.Core.Retrieval;
using Smec.Core.Storage;
using static TorchSharp.torch;

namespace Smec.Core.Multimodal;

/// <summary>Which modality queries which (the two panels of the multimodal item).</summary>
public enum CrossModalDirection { TextToImage, ImageToText }

/// <summary>
/// Mean figures of one retrieval direction (trec_eval semantics, binary relevance). Text -> image:
/// one relevant image per caption, so recall@k is the hit rate ("R@k" of the image-text literature).
/// Image -> text: five relevant captions per image, and recall@k is trec_eval's, the share of them in the top k.
/// </summary>
public sealed record CrossModalMetrics(double Ndcg10, double RecallAt1, double RecallAt5, double RecallAt10, int Queries)
{
    /// <summary>Mean of R@1, R@5 and R@10 (the image-text literature's "rsum" divided by 3).</summary>
    public double MeanRecall => (RecallAt1 + RecallAt5 + RecallAt10) / 3;
}

/// <summary>Cross-modal retrieval figures through the shared exact search and trec_eval measures.</summary>
public static class CrossModalEvaluation
{
    public static readonly IReadOnlyList<Measure> Measures =
        [Measure.RecallAt(1), Measure.RecallAt(5), Measure.RecallAt(10), Measure.Ndcg10];

    public static (IReadOnlyList<string> QueryIds, IReadOnlyList<string> DocIds, Qrels Qrels) Task(CaptionedFeatures set, CrossModalDirection direction) =>
        direction == CrossModalDirection.TextToImage
            ? (set.Captions.Ids, set.Images.Ids, set.TextToImageQrels())
            : (set.Images.Ids, set.Captions.Ids, set.ImageToTextQrels());

    /// <summary>An evaluator for one direction of a set, prepared once (the joint space validates with it repeatedly).</summary>
    public static RetrievalEvaluator Evaluator(CaptionedFeatures set, CrossModalDirection direction)
    {
        var (queryIds, docIds, qrels) = Task(set, direction);
        return new RetrievalEvaluator(queryIds, docIds, qrels, Measures);
    }

    /// <summary>Figures for query and document embeddings whose rows follow the set's ids for the direction.</summary>
    public static CrossModalMetrics Evaluate(CaptionedFeatures set, CrossModalDirection direction, EmbeddingMatrix queries, EmbeddingMatrix docs) =>
        From(Evaluator(set, direction).Evaluate(queries, docs));

    public static CrossModalMetrics From(EvaluationResult result) =>
        new(result.Mean(Measure.Ndcg10), result.Mean(Measure.RecallAt(1)), result.Mean(Measure.RecallAt(5)),
            result.Mean(Measure.RecallAt(10)), result.QueryCount);

    /// <summary>Evaluate tensors ([rows, dim], rows in the evaluator's id order).</summary>
    public static CrossModalMetrics Evaluate(RetrievalEvaluator evaluator, Tensor queries, Tensor docs) => From(evaluator.Evaluate(queries, docs));
}
