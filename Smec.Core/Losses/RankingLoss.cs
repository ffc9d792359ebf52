using static TorchSharp.torch;

namespace Smec.Core.Losses;

/// <summary>Which supervised loss L is used (METHOD.md "The supervised loss L"; InfoNCE is the reference map's).</summary>
public enum RankingLossForm { Pairwise, InfoNce }

/// <summary>
/// The supervised loss L on a batch: queries against candidate docs with graded relevance labels.
/// Scores are cosine similarities divided by a temperature.
/// </summary>
public static class RankingLoss
{
    /// <summary>Cosine similarity of every query with every doc, divided by <paramref name="temperature"/>: [B, M].</summary>
    public static Tensor Scores(Tensor queries, Tensor docs, double temperature) =>
        nn.functional.normalize(queries, dim: 1).matmul(nn.functional.normalize(docs, dim: 1).t()).div(temperature);

    public static Tensor Compute(RankingLossForm form, Tensor queries, Tensor docs, Tensor relevance, Tensor positiveColumn, double temperature)
    {
        var scores = Scores(queries, docs, temperature);
        return form switch
        {
            RankingLossForm.Pairwise => Pairwise(scores, relevance),
            RankingLossForm.InfoNce => InfoNce(scores, relevance, positiveColumn),
            _ => throw new ArgumentOutOfRangeException(nameof(form), form, "unknown ranking loss form"),
        };
    }

    /// <summary>
    /// Search-Adaptor's pairwise loss: over queries i and doc pairs (j, k) with y_ij &gt; y_ik,
    /// (y_ij - y_ik) log(1 + exp(s_ik - s_ij)). Divided by the total pair weight, so the scale does not
    /// grow with the batch (our choice; the paper writes a plain sum).
    /// </summary>
    public static Tensor Pairwise(Tensor scores, Tensor relevance)
    {
        // [B, M, 1] - [B, 1, M]: entry (i, j, k) compares doc j (preferred) with doc k.
        var weight = (relevance.unsqueeze(2) - relevance.unsqueeze(1)).clamp_min(0);
        var terms = nn.functional.softplus(scores.unsqueeze(1) - scores.unsqueeze(2));
        var total = weight.sum();
        return (weight * terms).sum() / total.clamp_min(1e-12);
    }

    /// <summary>
    /// InfoNCE: softmax cross-entropy of each query's sampled positive against every candidate that is
    /// not judged relevant to it (other relevant docs are masked, not treated as negatives). Mean over queries.
    /// </summary>
    public static Tensor InfoNce(Tensor scores, Tensor relevance, Tensor positiveColumn)
    {
        var columns = arange(scores.shape[1], device: scores.device).unsqueeze(0);
        var isPositive = columns.eq(positiveColumn.unsqueeze(1));
        var masked = relevance.gt(0).logical_and(isPositive.logical_not());
        var logits = scores.masked_fill(masked, double.NegativeInfinity);
        return nn.functional.cross_entropy(logits, positiveColumn);
    }
}
