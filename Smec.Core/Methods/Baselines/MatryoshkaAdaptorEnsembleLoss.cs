using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Matryoshka-Adaptor's objective (<see cref="MatryoshkaAdaptorLoss"/>, <see cref="MatryoshkaAdaptorObjective"/>) for K
/// members at once: one [K] loss, member k's value the one its adaptor gives on its own rows alone (up to float
/// rounding: sums run in another order). Every input is already in the members' shared input space. One
/// function for both ensemble stages and `smec bench`, so the benchmarked step is the trained one.
/// </summary>
public static class MatryoshkaAdaptorEnsembleLoss
{
    /// <summary>
    /// L_topk + alpha L_pair + beta L_rec per member, for anchors [K, R, D] and their neighbours [K, R, k, D]
    /// (mapped frozen embeddings) and their adaptor outputs (same shapes). <paramref name="alpha"/>, <paramref name="beta"/>: [K].
    /// </summary>
    public static Tensor Unsupervised(Tensor anchors, Tensor adaptedAnchors, Tensor neighbours, Tensor adaptedNeighbours,
        IReadOnlyList<int> dims, Tensor alpha, Tensor beta, ReconstructionNorm norm)
    {
        // Top-k: |cos(e_i, e_j) - cos(e'_i[:m], e'_j[:m])| over each anchor's neighbours, mean per member, mean over prefixes.
        var target = Cosines(nn.functional.normalize(anchors, p: 2.0, dim: 2), nn.functional.normalize(neighbours, p: 2.0, dim: 3));
        var topK = NestedLoss.Sum(dims, m =>
            Cosines(PrefixCosine.NormalisedPrefix(adaptedAnchors, m), PrefixCosine.NormalisedPrefix(adaptedNeighbours, m)).sub(target).abs().mean([1, 2]))
            .DividedBy(dims.Count);

        // Pairwise over the anchors' pairs i < j (the masked mean PairwiseSimilarityLoss takes).
        var rows = anchors.shape[1];
        var unit = nn.functional.normalize(anchors, p: 2.0, dim: 2);
        var pairTarget = unit.bmm(unit.transpose(1, 2));
        var upper = ones(rows, rows, device: anchors.device).triu(1);
        var pairs = rows * (rows - 1) / 2;
        var pairwise = NestedLoss.Sum(dims, m =>
        {
            var prefix = PrefixCosine.NormalisedPrefix(adaptedAnchors, m);
            return (prefix.bmm(prefix.transpose(1, 2)).sub(pairTarget).abs() * upper).sum([1, 2]).DividedBy(pairs);
        }).DividedBy(dims.Count);

        // Reconstruction: the mean per coordinate over the anchors (ReconstructionLoss).
        var difference = adaptedAnchors - anchors;
        var reconstruction = (norm == ReconstructionNorm.L1 ? difference.abs() : difference * difference).mean([1, 2]);

        return topK.Add(pairwise * alpha).Add(reconstruction * beta);
    }

    /// <summary>[K, R, k] dot products of each unit anchor [K, R, D] with its unit neighbours [K, R, k, D].</summary>
    private static Tensor Cosines(Tensor anchors, Tensor neighbours) => (neighbours * anchors.unsqueeze(2)).sum(3);

    /// <summary>
    /// The [K] losses of one supervised step: the unsupervised terms on each member's random corpus docs (anchors,
    /// rows of <paramref name="corpus"/> named by <paramref name="batch"/>.RandomDocRows) and their corpus
    /// neighbours (<paramref name="neighbourRows"/> [Nc, k]), plus gamma / |dims| x the ranking loss summed over the
    /// prefixes (each member its own form). Anchors, neighbours and the batch's queries and docs go through the
    /// adaptors in three batched passes, not one over their concatenation: the backward of each slice of one
    /// [K, R + Rk + B + M, D] output fills and adds a zero tensor of that whole size, which at K = 8 (22 MB at
    /// 384 dims) left the cache and made the step 2.5x slower than the members' solo steps.
    /// </summary>
    /// <param name="items">[Nc + Nq, D] mapped rows that <paramref name="batch"/>.Items index (docs first);
    /// <paramref name="corpus"/> is its first Nc rows.</param>
    public static Tensor Supervised(MatryoshkaAdaptorWeights weights, Tensor items, Tensor corpus, Tensor neighbourRows, EnsembleBatch batch,
        IReadOnlyList<int> dims, IReadOnlyList<RankingLossForm> forms, Tensor alpha, Tensor beta, Tensor gammaPerDim,
        ReconstructionNorm norm, double temperature)
    {
        var (k, b, m) = (batch.Members, batch.Queries, batch.Docs);
        var r = batch.RandomDocRows.shape[1];
        var topK = neighbourRows.shape[1];
        var anchorRows = batch.RandomDocRows.flatten();
        var anchors = corpus.index_select(0, anchorRows).view(k, r, -1);
        var neighbours = corpus.index_select(0, neighbourRows.index_select(0, anchorRows).flatten()).view(k, r * topK, -1);
        var width = anchors.shape[2];
        var unsupervised = Unsupervised(anchors, weights.ForwardCentred(anchors), neighbours.view(k, r, topK, width),
            weights.ForwardCentred(neighbours).view(k, r, topK, width), dims, alpha, beta, norm);
        var rows = weights.ForwardCentred(EnsembleLayers.Rows(items, batch));
        var queries = rows.narrow(1, 0, b);
        var docs = rows.narrow(1, b, m);
        var ranking = NestedLoss.Sum(dims, d =>
            EnsembleRankingLoss.Compute(forms, queries.narrow(2, 0, d), docs.narrow(2, 0, d), batch, temperature));
        return unsupervised.Add(ranking * gammaPerDim);
    }
}
