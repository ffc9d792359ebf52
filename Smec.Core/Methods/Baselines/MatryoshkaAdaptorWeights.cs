using Smec.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// K Matryoshka-Adaptor adaptors (<see cref="ResidualAdaptor"/>) as one set of weights with the member dim first:
/// the residual MLP's x + W2 relu(W1 x + b1) + b2 (<paramref name="Hidden"/> [K, H, D], <paramref name="HiddenBias"/> [K, H],
/// <paramref name="Output"/> [K, D, H], <paramref name="OutputBias"/> [K, D]) or, in the linear form (Hidden null),
/// x + W x + b (Output [K, D, D]). Inputs are already in the adaptors' input space (<see cref="ResidualAdaptor.Centre"/>):
/// the members share one input map, so the mapped rows are shared too.
/// </summary>
public sealed record MatryoshkaAdaptorWeights(Tensor? Hidden, Tensor? HiddenBias, Tensor Output, Tensor OutputBias) : IDisposable
{
    /// <summary>In the order of <see cref="ResidualAdaptor"/>'s parameters(), so a member's slices (and its per-dim
    /// snapshots) copy into an adaptor's parameters one for one.</summary>
    public Tensor[] All => Hidden is null ? [Output, OutputBias] : [Hidden, HiddenBias!, Output, OutputBias];

    public FunctionClass FunctionClass => Hidden is null ? FunctionClass.Linear : FunctionClass.ResidualMlp;

    /// <summary>x + f(x) for each member's rows [K, N, D] (ResidualAdaptor.ForwardCentred per member).</summary>
    public Tensor ForwardCentred(Tensor x) =>
        x.Add(EnsembleLayers.Affine(Hidden is null ? x : nn.functional.relu(EnsembleLayers.Affine(x, Hidden, HiddenBias!)), Output, OutputBias));

    /// <summary>Member <paramref name="member"/>'s x + f(x) for rows [N, D] (no member dim).</summary>
    public Tensor ForwardCentred(int member, Tensor x) =>
        x.Add(nn.functional.linear(Hidden is null ? x : nn.functional.relu(nn.functional.linear(x, Hidden[member], HiddenBias![member])),
            Output[member], OutputBias[member]));

    /// <summary>The adaptors' parameters stacked as trainable [K, ...] tensors (copies: the adaptors are untouched until <see cref="WriteBack"/>).</summary>
    public static MatryoshkaAdaptorWeights Stack(IReadOnlyList<ResidualAdaptor> adaptors)
    {
        using var _ = no_grad();
        var perAdaptor = adaptors.Select(a => a.parameters().ToArray()).ToArray();
        var stacked = Enumerable.Range(0, perAdaptor[0].Length)
            .Select(i => (Tensor)new Parameter(stack(perAdaptor.Select(p => p[i].detach()).ToArray()).contiguous()))
            .ToArray();
        return stacked.Length == 2
            ? new MatryoshkaAdaptorWeights(null, null, stacked[0], stacked[1])
            : new MatryoshkaAdaptorWeights(stacked[0], stacked[1], stacked[2], stacked[3]);
    }

    /// <summary>Copy member k's slices into <paramref name="adaptors"/>[k]'s parameters, for every member.</summary>
    public void WriteBack(IReadOnlyList<ResidualAdaptor> adaptors)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (var k = 0; k < adaptors.Count; k++)
        {
            var parameters = adaptors[k].parameters().ToArray();
            for (var i = 0; i < parameters.Length; i++) parameters[i].copy_(All[i][k]);
        }
    }

    public IReadOnlyList<ParameterGroup> ParameterGroups => [new ParameterGroup(All.Cast<Parameter>().ToArray())];

    public void Dispose()
    {
        foreach (var t in All) t.Dispose();
    }
}
