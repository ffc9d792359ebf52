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
        MatryoshkaAdaptorOptions options) =>
        UnsupervisedMapped(adaptor, adaptor.Centre(anchors), adaptor.Centre(neighbours), dims, options);

    /// <summary>The same loss for inputs already in the adaptor's input space (<see cref="ResidualAdaptor.Centre"/>):
    /// the targets are the mapped embeddings and the forward pass starts from them. Training maps the
    /// corpus once (<see cref="MappedEmbeddings"/>) instead of every batch; the map has no parameter, so
    /// this is the same arithmetic.</summary>
    public static Tensor UnsupervisedMapped(ResidualAdaptor adaptor, Tensor anchors, Tensor neighbours, IReadOnlyList<int> dims,
        MatryoshkaAdaptorOptions options)
    {
        var adaptedAnchors = adaptor.ForwardCentred(anchors);
        var adaptedNeighbours = adaptor.ForwardCentred(neighbours);
        return TopKSimilarityLoss.Compute(anchors, adaptedAnchors, neighbours, adaptedNeighbours, dims)
            .Add(PairwiseSimilarityLoss.Compute(anchors, adaptedAnchors, dims).Times(options.Alpha))
            .Add(ReconstructionLoss.Compute(anchors, adaptedAnchors, options.ReconstructionNorm).Times(options.Beta));
    }
}
