using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// Tensor-with-number operations that keep their <see cref="Scalar"/> alive for the whole native call.
/// Why: in TorchSharp 0.107 an implicitly converted Scalar (<c>t * 0.5</c>, <c>t.clamp_min(0)</c>,
/// <c>masked_fill(mask, -inf)</c>, and inside <c>softplus</c> and the built-in optimizers) is only
/// referenced until its handle is read; a garbage collection during the native call can then run its
/// finalizer and free it mid-use. We hit it as a libtorch error ("Expected false to be true" in
/// Scalar::toFloat) after a few hundred training steps; even <c>a + b</c> on two tensors passes a
/// temporary alpha = 1. Every path in the training code uses these helpers instead, and a test walks
/// the IL of every namespace that trains to keep it so (tests/Smec.Tests/ScalarSafetyTests.fs).
/// </summary>
public static class ScalarSafe
{
    // Static, so never finalized: safe to pass to native code at any time.
    private static readonly Scalar One = 1.0.ToScalar();
    private static readonly Scalar Zero = 0.0.ToScalar();

    /// <summary>a + b (TorchSharp's operator passes a temporary alpha Scalar).</summary>
    public static Tensor Add(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b, in place.</summary>
    public static Tensor AddInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>t &gt; 0, elementwise.</summary>
    public static Tensor Positive(this Tensor t) => t.gt(Zero);

    /// <summary>0, 1, ..., n - 1 as int64.</summary>
    public static Tensor Arange(long n, Device? device = null)
    {
        using var stop = n.ToScalar();
        return arange(Zero, stop, One, dtype: ScalarType.Int64, device: device);
    }

    public static Tensor Times(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.mul(s);
    }

    public static Tensor DividedBy(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.div(s);
    }

    public static Tensor Plus(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.add(s, One);
    }

    public static Tensor ClampMin(this Tensor t, double min)
    {
        using var s = min.ToScalar();
        return t.clamp_min(s);
    }

    public static Tensor ClampMax(this Tensor t, double max)
    {
        using var s = max.ToScalar();
        return t.clamp_max(s);
    }

    public static Tensor ClampBetween(this Tensor t, double min, double max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return t.clamp(lo, hi);
    }

    public static Tensor FillWhere(this Tensor t, Tensor mask, double value)
    {
        using var s = value.ToScalar();
        return t.masked_fill(mask, s);
    }

    /// <summary>log(1 + exp(x)), computed stably without TorchSharp's softplus (which converts scalars implicitly).</summary>
    public static Tensor Softplus(this Tensor x) => x.relu().Add(x.abs().neg().exp().log1p());
}
