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
    }

    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.grad?.zero_();
    }

    public void Step()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        _step++;
        var biasCorrection1 = 1 - Math.Pow(_beta1, _step);
        var biasCorrection2 = 1 - Math.Pow(_beta2, _step);
        using var keepDecay = (1 - _lr * _weightDecay).ToScalar();
        using var beta1 = _beta1.ToScalar();
        using var beta2 = _beta2.ToScalar();
        for (var i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            var grad = p.grad;
            if (grad is null) continue;
            if (_weightDecay != 0)
            {
                if (_decoupled) p.mul_(keepDecay);
                else grad = grad.Add(p.Times(_weightDecay));
            }
            _firstMoment[i].mul_(beta1).AddInPlace(grad.Times(1 - _beta1));
            _secondMoment[i].mul_(beta2).AddInPlace((grad * grad).Times(1 - _beta2));
            var denominator = _secondMoment[i].sqrt().DividedBy(Math.Sqrt(biasCorrection2)).Plus(_eps);
            p.sub_(_firstMoment[i].div(denominator).Times(_lr / biasCorrection1));
        }
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
    }
}
