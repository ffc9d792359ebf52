using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// Xie and Ermon's relaxed top-k (Reparameterizable Subset Sampling via Continuous Relaxations,
/// IJCAI 2019) of a key vector: the sum of k successive softmaxes, each after damping the previous
/// picks by log(1 - p). Entries in [0, 1], summing to k.
///
/// Why a hand-written function: the relaxation is k sequential softmaxes (k = 192 for SMEC's first
/// local step), and recorded as torch ops it is about 7k tiny autograd nodes per training step, ~10 ms
/// of pure overhead forward and backward. Here the forward is plain loops over the n keys and the
/// backward replays the k softmaxes in reverse from the stored probabilities: the same derivative,
/// well under a millisecond. <see cref="Reference"/> keeps the torch-op version as the test oracle.
/// </summary>
public static class RelaxedTopK
{
    /// <summary>Floor under 1 - p before the log (as the reference's ClampMin).</summary>
    private const double Floor = 1e-12;

    /// <summary>The relaxed top-k of a 1-d <paramref name="keys"/> tensor, differentiable in the keys.</summary>
    public static Tensor Compute(Tensor keys, int k)
    {
        if (keys.dim() != 1) throw new ArgumentException($"relaxed top-k takes a 1-d key vector, got {keys.dim()} dims");
        if (k < 1 || k > keys.shape[0]) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} outside 1..{keys.shape[0]}");
        return Function.apply(keys, k);
    }

    /// <summary>The same relaxation written with torch ops (autograd derives the backward): the oracle for tests.</summary>
    public static Tensor Reference(Tensor keys, int k)
    {
        var scores = keys;
        Tensor? soft = null;
        for (var j = 0; j < k; j++)
        {
            var p = scores.softmax(0);
            soft = soft is null ? p : soft.Add(p);
            if (j + 1 < k) scores = scores.Add(p.neg().Plus(1.0).ClampMin(Floor).log());
        }
        return soft!;
    }

    /// <summary>Forward: soft[i] = sum_j p_j[i], p_j = softmax(s_j), s_{j+1} = s_j + log(max(1 - p_j, floor)).
    /// Returns soft and every p_j (k x n, row-major) for the backward.</summary>
    internal static (float[] Soft, float[] Probabilities) Forward(ReadOnlySpan<float> keys, int k)
    {
        var n = keys.Length;
        var scores = new double[n];
        for (var i = 0; i < n; i++) scores[i] = keys[i];
        var soft = new double[n];
        var probabilities = new float[k * n];
        var p = new double[n];
        for (var j = 0; j < k; j++)
        {
            var max = double.NegativeInfinity;
            for (var i = 0; i < n; i++) max = Math.Max(max, scores[i]);
            double sum = 0;
            for (var i = 0; i < n; i++) { p[i] = Math.Exp(scores[i] - max); sum += p[i]; }
            for (var i = 0; i < n; i++)
            {
                p[i] /= sum;
                soft[i] += p[i];
                probabilities[j * n + i] = (float)p[i];
                if (j + 1 < k) scores[i] += Math.Log(Math.Max(1 - p[i], Floor));
            }
        }
        return (soft.Select(x => (float)x).ToArray(), probabilities);
    }

    /// <summary>Backward from dL/dsoft: reverse through the k softmaxes. With g_{j+1} = dL/ds_{j+1} (zero
    /// after the last), dL/dp_j = dL/dsoft - g_{j+1} / (1 - p_j) where 1 - p_j is above the floor, and
    /// dL/ds_j = g_{j+1} + p_j * (dL/dp_j - p_j . dL/dp_j) (the softmax's Jacobian-vector product).</summary>
    internal static float[] Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> gradSoft, int k)
    {
        var n = gradSoft.Length;
        var g = new double[n]; // dL/ds_{j+1}
        var gp = new double[n];
        for (var j = k - 1; j >= 0; j--)
        {
            var p = probabilities.Slice(j * n, n);
            double dot = 0;
            for (var i = 0; i < n; i++)
            {
                gp[i] = gradSoft[i];
                if (j + 1 < k && 1 - p[i] > Floor) gp[i] -= g[i] / (1 - p[i]);
                dot += gp[i] * p[i];
            }
            for (var i = 0; i < n; i++) g[i] = (j + 1 < k ? g[i] : 0) + p[i] * (gp[i] - dot);
        }
        return g.Select(x => (float)x).ToArray();
    }

    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "RelaxedTopK";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var keys = (Tensor)vars[0];
            var k = (int)vars[1];
            using var hostKeys = keys.detach().to(ScalarType.Float32).cpu().contiguous();
            var (soft, probabilities) = Forward(hostKeys.data<float>().ToArray(), k);
            ctx.save_data("probabilities", probabilities);
            ctx.save_data("k", k);
            return tensor(soft, [soft.Length]).to(keys.dtype).to(keys.device);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var probabilities = (float[])ctx.get_data("probabilities");
            var k = (int)ctx.get_data("k");
            using var hostGrad = gradOutput.detach().to(ScalarType.Float32).cpu().contiguous();
            var grad = Backward(probabilities, hostGrad.data<float>().ToArray(), k);
            return [tensor(grad, [grad.Length]).to(gradOutput.dtype).to(gradOutput.device), null!];
        }
    }
}
