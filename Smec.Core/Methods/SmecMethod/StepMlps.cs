using Smec.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// The residual MLPs of K SMEC (or MRL) steps in the residual-MLP function class, for the step ensembles
/// (<see cref="SmecStepEnsemble"/>, <see cref="MrlEnsemble"/>): each step's x + W2 relu(W1 x + b1) + b2 before
/// its layer (<see cref="SmrlStep.Mlp"/>, a <see cref="Baselines.ResidualAdaptor"/> with no input map) as one
/// stacked parameter per weight, [K, ...], in the order the step lists them after its layer
/// (<see cref="SmrlStep.TrainableParameters"/>), so per-dim snapshots copy into a step as its own would.
/// Member k computes what its step's MLP computes alone.
/// </summary>
internal sealed class StepMlps : IDisposable
{
    private readonly string[] _names;
    private readonly Parameter[] _stacked;
    private readonly Parameter _hidden, _hiddenBias, _output, _outputBias;

    private StepMlps(string[] names, Parameter[] stacked)
    {
        _names = names;
        _stacked = stacked;
        Parameter Of(string name) => stacked[Array.IndexOf(names, name)];
        (_hidden, _hiddenBias, _output, _outputBias) = (Of("hidden.weight"), Of("hidden.bias"), Of("output.weight"), Of("output.bias"));
    }

    /// <summary>The members' MLPs stacked; null when every step is linear. Members must share one function class.</summary>
    public static StepMlps? Of(IReadOnlyList<SmrlStep> steps, string method)
    {
        if (steps.All(s => s.Mlp is null)) return null;
        if (steps.Any(s => s.Mlp is null))
            throw new ArgumentException($"{method}: members mix the linear and the residual-MLP function class; expected one function class for every member");
        var names = steps[0].Mlp!.named_parameters().Select(p => p.name).ToArray();
        using var _ = no_grad();
        var stacked = names.Select(name =>
            new Parameter(stack(steps.Select(s => Named(s, name).detach()).ToArray()).contiguous())).ToArray();
        return new StepMlps(names, stacked);
    }

    private static Parameter Named(SmrlStep step, string name) => step.Mlp!.named_parameters().Single(p => p.name == name).parameter;

    /// <summary>The stacked parameters, in the step's own order (they train in the layer's group).</summary>
    public IReadOnlyList<Parameter> Parameters => _stacked;

    /// <summary>[K, R, in] -> [K, R, in]: every member's rows through its MLP, in batched products.</summary>
    public Tensor Adapt(Tensor x) =>
        x.Add(EnsembleLayers.Affine(nn.functional.relu(EnsembleLayers.Affine(x, _hidden, _hiddenBias)), _output, _outputBias));

    /// <summary>[N, in] -> [N, in]: member <paramref name="member"/>'s MLP alone (validation, compression).</summary>
    public Tensor AdaptMember(int member, Tensor x) =>
        x.Add(nn.functional.linear(nn.functional.relu(nn.functional.linear(x, _hidden[member], _hiddenBias[member])), _output[member], _outputBias[member]));

    /// <summary>Copy member <paramref name="member"/>'s weights into its step's MLP (under no_grad).</summary>
    public void WriteBack(int member, SmrlStep step)
    {
        for (var i = 0; i < _names.Length; i++) Named(step, _names[i]).copy_(_stacked[i][member]);
    }

    public void Dispose()
    {
        foreach (var p in _stacked) p.Dispose();
    }
}
