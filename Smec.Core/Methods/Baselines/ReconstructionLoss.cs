using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>How the distance between an embedding and its adapted version is measured.</summary>
public enum ReconstructionNorm { L1, L2 }

/// <summary>
/// Keeps an adaptor near the identity: Matryoshka-Adaptor's reconstruction loss ||e - e'|| and
/// Search-Adaptor's recovery regulariser ||e' - e||_1. L1 (the default in both papers) is the mean
/// absolute difference per coordinate; L2 the mean squared difference per coordinate.
/// </summary>
public static class ReconstructionLoss
{
    public static Tensor Compute(Tensor original, Tensor adapted, ReconstructionNorm norm = ReconstructionNorm.L1)
    {
        if (!original.shape.SequenceEqual(adapted.shape))
            throw new ArgumentException($"original ({string.Join(", ", original.shape)}) and adapted ({string.Join(", ", adapted.shape)}) must have the same shape");
        using var scope = NewDisposeScope();
        var difference = adapted - original;
        var loss = norm == ReconstructionNorm.L1 ? difference.abs().mean() : difference.mul(difference).mean();
        return loss.MoveToOuterDisposeScope();
    }
}
