using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>Cosine geometry of Matryoshka prefixes: the first m coordinates of each row, renormalised.</summary>
public static class PrefixCosine
{
    /// <summary>Rows (along the last axis) cut to their first <paramref name="m"/> coordinates and L2-normalised
    /// (<see cref="NestedLoss.FirstColumns"/> cuts without renormalising).</summary>
    public static Tensor NormalisedPrefix(Tensor rows, int m)
    {
        if (m <= 0 || m > rows.shape[^1])
            throw new ArgumentOutOfRangeException(nameof(m), $"prefix {m} of {rows.shape[^1]}-d rows");
        return nn.functional.normalize(rows[TensorIndex.Ellipsis, TensorIndex.Slice(0, m)], p: 2.0, dim: -1);
    }

    /// <summary>Checks the prefix list once, with a message that names the offending value.</summary>
    public static void CheckPrefixes(IReadOnlyList<int> prefixes, long width)
    {
        if (prefixes.Count == 0) throw new ArgumentException("at least one prefix dimension is needed");
        foreach (var m in prefixes)
            if (m <= 0 || m > width) throw new ArgumentOutOfRangeException(nameof(prefixes), $"prefix {m} is outside 1..{width}");
    }
}
