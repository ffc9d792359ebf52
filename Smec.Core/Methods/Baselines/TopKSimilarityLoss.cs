using Smec.Core.Training;
using Smec.Core.Losses;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Matryoshka-Adaptor's top-k similarity loss: the pairwise loss restricted to each item's k nearest
/// neighbours (found once with the frozen encoder), so local neighbourhoods, which decide retrieval,
/// are preserved first. Mean over anchors i, neighbours j and prefixes m of
/// |cos(e_i, e_j) - cos(e'_i[:m], e'_j[:m])|.
/// </summary>
public static class TopKSimilarityLoss
{
    /// <param name="originalAnchors">(B x D) frozen embeddings of the anchors.</param>
    /// <param name="adaptedAnchors">(B x D') adaptor outputs of the anchors.</param>
    /// <param name="originalNeighbours">(B x k x D) frozen embeddings of each anchor's neighbours.</param>
    /// <param name="adaptedNeighbours">(B x k x D') adaptor outputs of those neighbours.</param>
    public static Tensor Compute(Tensor originalAnchors, Tensor adaptedAnchors, Tensor originalNeighbours,
        Tensor adaptedNeighbours, IReadOnlyList<int> prefixes)
    {
        if (originalAnchors.dim() != 2 || adaptedAnchors.dim() != 2 || originalNeighbours.dim() != 3 || adaptedNeighbours.dim() != 3)
            throw new ArgumentException("expected anchors (B x D) and neighbours (B x k x D)");
        if (originalNeighbours.shape[0] != originalAnchors.shape[0] || adaptedNeighbours.shape[0] != adaptedAnchors.shape[0]
            || originalAnchors.shape[0] != adaptedAnchors.shape[0] || originalNeighbours.shape[1] != adaptedNeighbours.shape[1])
            throw new ArgumentException("anchors and neighbours disagree on B or k");
        PrefixCosine.CheckPrefixes(prefixes, adaptedAnchors.shape[1]);
        using var scope = NewDisposeScope();
        var target = Cosines(nn.functional.normalize(originalAnchors, p: 2.0, dim: 1), nn.functional.normalize(originalNeighbours, p: 2.0, dim: 2));
        var total = NestedLoss.Sum(prefixes, m =>
            Cosines(PrefixCosine.NormalisedPrefix(adaptedAnchors, m), PrefixCosine.NormalisedPrefix(adaptedNeighbours, m)).sub(target).abs().mean());
        return total.DividedBy(prefixes.Count).MoveToOuterDisposeScope();
    }

    /// <summary>(B x k) dot products of each unit anchor with its unit neighbours.</summary>
    private static Tensor Cosines(Tensor anchors, Tensor neighbours) => (neighbours * anchors.unsqueeze(1)).sum(2);
}
