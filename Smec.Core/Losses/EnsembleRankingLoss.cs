using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Losses;

/// <summary>
/// <see cref="RankingLoss"/> for K ensemble members at once: [K, B, d] queries against [K, M, d] docs
/// (<see cref="EnsembleBatch"/>), one loss per member ([K]). Each member's value is the one
/// RankingLoss gives on that member's own batch (up to float rounding: the sums run in another order);
/// padded doc columns take no part. Tests compare the two member by member.
/// </summary>
public static class EnsembleRankingLoss
{
    /// <summary>[K] losses; member k uses <paramref name="forms"/>[k] (members of a grid may differ in form).</summary>
    public static Tensor Compute(IReadOnlyList<RankingLossForm> forms, Tensor queries, Tensor docs, EnsembleBatch batch, double temperature)
    {
        if (forms.Count != batch.Members) throw new ArgumentException($"{forms.Count} loss forms for {batch.Members} members; expected one per member");
        var scores = Scores(queries, docs, temperature);
        var infoNce = forms.Contains(RankingLossForm.InfoNce);
        var pairwise = forms.Contains(RankingLossForm.Pairwise);
        if (infoNce && !pairwise) return InfoNce(scores, batch);
        if (pairwise && !infoNce) return Pairwise(scores, batch);
        // A mixed grid: both forms for every member, each member keeps its own (where: the other's gradient is 0).
        var usesInfoNce = tensor(forms.Select(f => f == RankingLossForm.InfoNce).ToArray(), device: scores.device);
        return where(usesInfoNce, InfoNce(scores, batch), Pairwise(scores, batch));
    }

    /// <summary>Cosine similarity / temperature per member: [K, B, M].</summary>
    public static Tensor Scores(Tensor queries, Tensor docs, double temperature) =>
        nn.functional.normalize(queries, dim: 2).bmm(nn.functional.normalize(docs, dim: 2).transpose(1, 2)).DividedBy(temperature);

    /// <summary><see cref="RankingLoss.InfoNce"/> per member: padded columns are masked like judged-relevant non-positives.</summary>
    public static Tensor InfoNce(Tensor scores, EnsembleBatch batch)
    {
        var (k, b, m) = (scores.shape[0], scores.shape[1], scores.shape[2]);
        var columns = ScalarSafe.Arange(m, scores.device).view(1, 1, m);
        var isPositive = columns.eq(batch.PositiveColumn.unsqueeze(2));
        var masked = batch.Relevance.Positive().logical_and(isPositive.logical_not())
            .logical_or(batch.DocValid.logical_not().unsqueeze(1));
        var logits = scores.FillWhere(masked, double.NegativeInfinity);
        var perQuery = nn.functional.cross_entropy(logits.view(k * b, m), batch.PositiveColumn.view(k * b), reduction: nn.Reduction.None);
        return perQuery.view(k, b).mean([1]);
    }

    /// <summary><see cref="RankingLoss.Pairwise"/> per member, over the judged-relevant cells the batch lists;
    /// padded columns have weight 0.</summary>
    public static Tensor Pairwise(Tensor scores, EnsembleBatch batch)
    {
        var (k, b, m) = (scores.shape[0], scores.shape[1], scores.shape[2]);
        var rowScores = scores.view(k * b, m).index_select(0, batch.PreferredRow);            // [P, M]: s_ik
        var rowLabels = batch.Relevance.view(k * b, m).index_select(0, batch.PreferredRow);   // [P, M]: y_ik
        var column = batch.PreferredColumn.unsqueeze(1);
        var preferredScore = rowScores.gather(1, column);                                     // [P, 1]: s_ij
        var preferredLabel = rowLabels.gather(1, column);                                     // [P, 1]: y_ij
        var valid = batch.DocValid.index_select(0, batch.PreferredMember).to(ScalarType.Float32);
        var weight = (preferredLabel - rowLabels).relu() * valid;
        var terms = (rowScores - preferredScore).Softplus();
        var weighted = zeros(k, device: scores.device).scatter_add(0, batch.PreferredMember, (weight * terms).sum([1]));
        var total = zeros(k, device: scores.device).scatter_add(0, batch.PreferredMember, weight.sum([1]));
        return weighted / total.ClampMin(1e-12);
    }
}
