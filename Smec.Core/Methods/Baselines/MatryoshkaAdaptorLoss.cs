using Smec.Core.Losses.Baselines;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Matryoshka-Adaptor's corpus-only objective, shared by both training stages, the corpus-only
/// stop criterion and `smec bench` (so the benchmarked step is the trained one, not a copy).
/// </summary>
public static class MatryoshkaAdaptorLoss
{
    /// <summary>L_topk + alpha L_pair + beta L_rec for anchors [B, D] and their neighbours [B, k, D]
    /// (frozen embeddings); reads nothing but corpus geometry.</summary>
    public static Tensor Unsupervised(ResidualAdaptor adaptor, Tensor anchors, Tensor neighbours, IReadOnlyList<int> dims,
        MatryoshkaAdaptorOptions options)
    {
        // Targets in the adaptor's input space (centred when the adaptor centres), mapped once and
        // shared with the forward pass (the map is two fifths of this loss's matrix products).
        anchors = adaptor.Centre(anchors);
        neighbours = adaptor.Centre(neighbours);
        var adaptedAnchors = adaptor.ForwardCentred(anchors);
        var adaptedNeighbours = adaptor.ForwardCentred(neighbours);
        return TopKSimilarityLoss.Compute(anchors, adaptedAnchors, neighbours, adaptedNeighbours, dims)
            .Add(PairwiseSimilarityLoss.Compute(anchors, adaptedAnchors, dims).Times(options.Alpha))
            .Add(ReconstructionLoss.Compute(anchors, adaptedAnchors, options.ReconstructionNorm).Times(options.Beta));
    }
}
