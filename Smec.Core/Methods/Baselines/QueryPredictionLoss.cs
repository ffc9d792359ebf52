using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Search-Adaptor's query-prediction regulariser (inferred form): a predictor h, used only in
/// training, maps each relevant document's adapted embedding to its query's frozen embedding, so
/// the adapted corpus keeps the information that identifies the queries it answers.
/// Weighted mean over (query, relevant doc) pairs of the mean |h(c'_j) - q_i| per coordinate, weight = relevance.
/// </summary>
public static class QueryPredictionLoss
{
    /// <param name="predictedQueries">(P x D) h applied to the adapted relevant documents.</param>
    /// <param name="queries">(P x D) the frozen query embeddings of the same pairs.</param>
    /// <param name="relevance">(P) the graded relevance of each pair (all positive).</param>
    public static Tensor Compute(Tensor predictedQueries, Tensor queries, Tensor relevance)
    {
        if (!predictedQueries.shape.SequenceEqual(queries.shape) || predictedQueries.dim() != 2)
            throw new ArgumentException($"predictions ({string.Join(", ", predictedQueries.shape)}) and queries ({string.Join(", ", queries.shape)}) must both be (P x D)");
        if (relevance.dim() != 1 || relevance.shape[0] != queries.shape[0])
            throw new ArgumentException($"relevance must be a vector of {queries.shape[0]} weights");
        using var scope = NewDisposeScope();
        var weights = relevance.to_type(predictedQueries.dtype);
        var perPair = (predictedQueries - queries).abs().mean([1L]);
        return ((perPair * weights).sum() / weights.sum()).MoveToOuterDisposeScope();
    }
}
