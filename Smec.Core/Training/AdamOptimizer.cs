using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// Adam and AdamW (decoupled weight decay), as torch.optim defines them, written here rather than taken
/// from TorchSharp because TorchSharp 0.107's optimizers pass implicitly converted Scalars to native
/// code (see <see cref="ScalarSafe"/>). Owning the state also makes checkpoints plain tensors.
/// </summary>
public sealed class AdamOptimizer : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _firstMoment, _secondMoment;
    /// <summary>sqrt of the second moment, per parameter: the fused pass's scratch (made on first use).</summary>
    private readonly Tensor?[] _roots;
    private readonly double _lr, _weightDecay, _beta1, _beta2, _eps;
    private readonly bool _decoupled;
    private long _step;

    public AdamOptimizer(IReadOnlyList<Parameter> parameters, double lr, double weightDecay, bool decoupled,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        _parameters = parameters.ToArray();
        (_lr, _weightDecay, _decoupled, _beta1, _beta2, _eps) = (lr, weightDecay, decoupled, beta1, beta2, eps);
        // State lives as long as the optimizer, outside any step scope.
        using var _ = no_grad();
        _firstMoment = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _secondMoment = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _roots = new Tensor?[_parameters.Length];
    }

    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.grad?.zero_();
    }

    /// <summary>
    /// One update of every parameter with a gradient. Contiguous float32 CPU tensors take one fused pass
    /// per parameter (<see cref="FusedUpdate"/>): the tensor form below costs about ten passes over
    /// memory and a native call each, up to a third of a Search-Adaptor step at 384 dims. Both
    /// forms round every operation to float32 in the same order, so they give the same bits
    /// (tests/Smec.Tests/AdamOptimizerTests.fs); anything else (a GPU, float64) takes the tensor form.
    /// </summary>
    public void Step() => Step(fused: true);

    /// <summary>The update written as torch tensor operations only: the reference the fused pass is tested against.</summary>
    public void StepReference() => Step(fused: false);

    /// <summary>
    /// One update of an ensemble's parameters, whose leading dim is the member: only the members marked in
    /// <paramref name="members"/> move; a stopped member's weights and moments stay exactly as they are.
    /// Adam is elementwise, so each active member gets the update it would get alone (the step count is
    /// shared: every active member has taken every step so far, and a stopped member never resumes).
    /// </summary>
    public void Step(MemberMask members)
    {
        _step++;
        var biasCorrection1 = 1 - Math.Pow(_beta1, _step);
        var biasCorrection2 = 1 - Math.Pow(_beta2, _step);
        for (var i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            var grad = p.grad;
            if (grad is null) continue;
            if (p.shape.Length == 0 || p.shape[0] != members.Count)
                throw new ArgumentException($"an ensemble parameter of shape [{string.Join(", ", p.shape)}] does not lead with the {members.Count} members");
            if (Fusable(p, grad, _firstMoment[i], _secondMoment[i]))
            {
                // A member's slice of a contiguous [K, ...] tensor is one contiguous range.
                var perMember = (int)(p.numel() / members.Count);
                for (var k = 0; k < members.Count; k++)
                    if (members.IsActive(k)) FusedUpdate(i, p, grad, biasCorrection1, biasCorrection2, k * perMember, perMember);
            }
            else
                TensorUpdate(p, grad, _firstMoment[i], _secondMoment[i], biasCorrection1, biasCorrection2, members.OnDevice(p));
        }
    }

    private void Step(bool fused)
    {
        _step++;
        var biasCorrection1 = 1 - Math.Pow(_beta1, _step);
        var biasCorrection2 = 1 - Math.Pow(_beta2, _step);
        for (var i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            var grad = p.grad;
            if (grad is null) continue;
            if (fused && Fusable(p, grad, _firstMoment[i], _secondMoment[i]))
                FusedUpdate(i, p, grad, biasCorrection1, biasCorrection2, 0, (int)p.numel());
            else
                TensorUpdate(p, grad, _firstMoment[i], _secondMoment[i], biasCorrection1, biasCorrection2, active: null);
        }
    }

    /// <param name="active">Ensembles: [K, 1, ...] bool, true where the member still trains (null: every element moves).</param>
    private void TensorUpdate(Tensor p, Tensor grad, Tensor firstMoment, Tensor secondMoment, double biasCorrection1, double biasCorrection2, Tensor? active)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (active is not null)
        {
            // Update copies, then keep the old values of stopped members: no host round trip on a GPU.
            var (newP, newM, newV) = (p.clone(), firstMoment.clone(), secondMoment.clone());
            TensorUpdate(newP, grad, newM, newV, biasCorrection1, biasCorrection2, active: null);
            p.copy_(where(active, newP, p));
            firstMoment.copy_(where(active, newM, firstMoment));
            secondMoment.copy_(where(active, newV, secondMoment));
            return;
        }
        using var keepDecay = (1 - _lr * _weightDecay).ToScalar();
        using var beta1 = _beta1.ToScalar();
        using var beta2 = _beta2.ToScalar();
        if (_weightDecay != 0)
        {
            if (_decoupled) p.mul_(keepDecay);
            else grad = grad.Add(p.Times(_weightDecay));
        }
        firstMoment.mul_(beta1).AddInPlace(grad.Times(1 - _beta1));
        secondMoment.mul_(beta2).AddInPlace((grad * grad).Times(1 - _beta2));
        var denominator = secondMoment.sqrt().DividedBy(Math.Sqrt(biasCorrection2)).Plus(_eps);
        p.sub_(firstMoment.div(denominator).Times(_lr / biasCorrection1));
    }

    private static bool Fusable(params Tensor[] tensors) =>
        tensors.All(t => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous())
        && tensors.All(t => t.numel() == tensors[0].numel());

    /// <summary>
    /// <see cref="TensorUpdate"/> in two passes around one native square root: each scalar is cast to
    /// float32 as torch casts a number that meets a float32 tensor, and each product, sum and quotient is
    /// rounded to float32 before the next, as the separate tensor operations round them (no fused
    /// multiply-add: the JIT does not contract float expressions, and Vector arithmetic is IEEE per
    /// lane). The square root stays torch's: its vectorised sqrt is not the correctly rounded one
    /// (one value in 100,000 differs by an ulp), so a managed sqrt would not give the same bits.
    /// </summary>
    /// <param name="start">First element updated (an ensemble member's slice); <paramref name="count"/> elements from there.</param>
    private void FusedUpdate(int index, Tensor p, Tensor grad, double biasCorrection1, double biasCorrection2, int start, int count)
    {
        var firstMoment = _firstMoment[index];
        var secondMoment = _secondMoment[index];
        // Tensor.bytes of a contiguous CPU tensor is a view of its storage: writes land in the tensor.
        var weights = MemoryMarshal.Cast<byte, float>(p.bytes).Slice(start, count);
        ReadOnlySpan<float> gradients = MemoryMarshal.Cast<byte, float>(grad.bytes).Slice(start, count);
        var m = MemoryMarshal.Cast<byte, float>(firstMoment.bytes).Slice(start, count);
        var v = MemoryMarshal.Cast<byte, float>(secondMoment.bytes).Slice(start, count);
        _roots[index] ??= zeros_like(secondMoment).DetachFromDisposeScope();
        var root = _roots[index]!;
        var rootValues = MemoryMarshal.Cast<byte, float>(root.bytes).Slice(start, count);
        var keepDecay = (float)(1 - _lr * _weightDecay);
        var coupledDecay = (float)_weightDecay;
        var decoupled = _weightDecay != 0 && _decoupled;
        var coupled = _weightDecay != 0 && !_decoupled;
        float beta1 = (float)_beta1, oneMinusBeta1 = (float)(1 - _beta1);
        float beta2 = (float)_beta2, oneMinusBeta2 = (float)(1 - _beta2);

        // Pass 1: decay, both moments; the second moment is copied for the square root.
        var n = weights.Length;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vWeights = MemoryMarshal.Cast<float, Vector<float>>(weights);
            var vGradients = MemoryMarshal.Cast<float, Vector<float>>(gradients);
            var vM = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vV = MemoryMarshal.Cast<float, Vector<float>>(v);
            var vRoot = MemoryMarshal.Cast<float, Vector<float>>(rootValues);
            for (var j = 0; j < vWeights.Length; j++)
            {
                var g = vGradients[j];
                if (decoupled) vWeights[j] *= keepDecay;
                else if (coupled) g += vWeights[j] * coupledDecay;
                vM[j] = vM[j] * beta1 + g * oneMinusBeta1;
                vRoot[j] = vV[j] = vV[j] * beta2 + (g * g) * oneMinusBeta2;
            }
            i = vWeights.Length * Vector<float>.Count;
        }
        for (; i < n; i++)
        {
            var g = gradients[i];
            if (decoupled) weights[i] *= keepDecay;
            else if (coupled) g += weights[i] * coupledDecay;
            m[i] = m[i] * beta1 + g * oneMinusBeta1;
            rootValues[i] = v[i] = v[i] * beta2 + (g * g) * oneMinusBeta2;
        }

        using (no_grad())
        {
            if (count == root.numel()) root.sqrt_();
            else
            {
                using var flat = root.flatten();
                using var member = flat.narrow(0, start, count); // a view: the root of this member only
                member.sqrt_();
            }
        }

        // Pass 2: the step, from m and sqrt(v).
        var sqrtBiasCorrection2 = (float)Math.Sqrt(biasCorrection2);
        var eps = (float)_eps;
        var stepSize = (float)(_lr / biasCorrection1);
        i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vWeights = MemoryMarshal.Cast<float, Vector<float>>(weights);
            var vM = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vRoot = MemoryMarshal.Cast<float, Vector<float>>(rootValues);
            var vEps = new Vector<float>(eps);
            for (var j = 0; j < vWeights.Length; j++)
                vWeights[j] -= (vM[j] / (vRoot[j] / sqrtBiasCorrection2 + vEps)) * stepSize;
            i = vWeights.Length * Vector<float>.Count;
        }
        for (; i < n; i++)
            weights[i] -= (m[i] / (rootValues[i] / sqrtBiasCorrection2 + eps)) * stepSize;
    }

    public void Save(BinaryWriter writer, string prefix)
    {
        writer.Write(_step);
        for (var i = 0; i < _parameters.Length; i++)
        {
            TensorIO.Write(writer, $"{prefix}.m{i}", _firstMoment[i]);
            TensorIO.Write(writer, $"{prefix}.v{i}", _secondMoment[i]);
        }
    }

    public void Load(BinaryReader reader, string prefix, string source)
    {
        _step = reader.ReadInt64();
        for (var i = 0; i < _parameters.Length; i++)
        {
            TensorIO.ReadInto(reader, $"{prefix}.m{i}", _firstMoment[i], source);
            TensorIO.ReadInto(reader, $"{prefix}.v{i}", _secondMoment[i], source);
        }
    }

    public void Dispose()
    {
        foreach (var t in _firstMoment.Concat(_secondMoment)) t.Dispose();
        foreach (var t in _roots) t?.Dispose();
    }
}
