using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Losses;

/// <summary>Which supervised loss L is used (docs/METHOD.md, "The supervised loss L"; InfoNCE is the reference map's).</summary>
public enum RankingLossForm { Pairwise, InfoNce }

/// <summary>
/// The supervised loss L on a batch: queries against candidate docs with graded relevance labels.
/// Scores are cosine similarities divided by a temperature.
/// </summary>
public static class RankingLoss
{
    /// <summary>Cosine similarity of every query with every doc, divided by <paramref name="temperature"/>: [B, M].</summary>
    public static Tensor Scores(Tensor queries, Tensor docs, double temperature) =>
        nn.functional.normalize(queries, dim: 1).matmul(nn.functional.normalize(docs, dim: 1).t()).DividedBy(temperature);

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
    /// grow with the batch (our choice; the paper writes a plain sum). Labels must be &gt;= 0, so only
    /// judged-relevant docs j can be preferred: the loss is computed over those (i, j) rows only,
    /// against every k, instead of over all B x M x M triples.
    /// </summary>
    public static Tensor Pairwise(Tensor scores, Tensor relevance)
    {
        var preferred = relevance.Positive().nonzero(); // [P, 2] (query i, doc j)
        var queryOf = preferred.select(1, 0);
        var docOf = preferred.select(1, 1);
        var rowScores = scores.index_select(0, queryOf);                 // [P, M]: s_ik
        var rowLabels = relevance.index_select(0, queryOf);              // [P, M]: y_ik
        var preferredScore = rowScores.gather(1, docOf.unsqueeze(1));    // [P, 1]: s_ij
        var preferredLabel = rowLabels.gather(1, docOf.unsqueeze(1));    // [P, 1]: y_ij
        var weight = (preferredLabel - rowLabels).relu();
        var terms = (rowScores - preferredScore).Softplus();
        return (weight * terms).sum() / weight.sum().ClampMin(1e-12);
    }

    /// <summary>
    /// InfoNCE: softmax cross-entropy of each query's sampled positive against every candidate that is
    /// not judged relevant to it (other relevant docs are masked, not treated as negatives). Mean over queries.
    /// </summary>
    public static Tensor InfoNce(Tensor scores, Tensor relevance, Tensor positiveColumn)
    {
        var columns = ScalarSafe.Arange(scores.shape[1], scores.device).unsqueeze(0);
        var isPositive = columns.eq(positiveColumn.unsqueeze(1));
        var masked = relevance.Positive().logical_and(isPositive.logical_not());
        var logits = scores.FillWhere(masked, double.NegativeInfinity);
        return nn.functional.cross_entropy(logits, positiveColumn);
    }
}
