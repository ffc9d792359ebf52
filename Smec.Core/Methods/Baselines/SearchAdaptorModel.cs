using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Search-Adaptor as a compression baseline at one target dimension d: the residual adaptor at full
/// width followed by its own linear projection to d (the SMEC paper draws one separate adaptor per
/// target dimension). The projection starts as the corpus PCA (so step 0 is the PCA baseline) or
/// as the prefix (step 0 is truncation); see <see cref="SearchAdaptorOptions.ProjectionInit"/>.
/// Function class (<see cref="SearchAdaptorOptions.FunctionClass"/>): ResidualMlp is the above (the
/// paper's form); Linear is the projection alone (no adaptor before it), so D*d + d parameters.
/// </summary>
public sealed class SearchAdaptorModel : Module<Tensor, Tensor>
{
    // Field names are the state-dict keys of saved models ("adaptor.hidden.weight", "projection.weight"):
    // keep them. Linear form: no adaptor (a null field is not registered).
    private readonly ResidualAdaptor? adaptor;
    private readonly Linear projection;

    public int TargetDim { get; }
    public int InputDim { get; }
    /// <summary>The adaptor's hidden width; 0 in the linear form (no adaptor).</summary>
    public int HiddenDim => adaptor?.HiddenDim ?? 0;
    public FunctionClass FunctionClass { get; }

    public SearchAdaptorModel(int dim, int hiddenDim, int targetDim, FunctionClass functionClass = FunctionClass.ResidualMlp)
        : base(nameof(SearchAdaptorModel))
    {
        if (targetDim <= 0 || targetDim > dim) throw new ArgumentException($"target dim {targetDim} must be within 1..{dim}");
        TargetDim = targetDim;
        InputDim = dim;
        FunctionClass = functionClass;
        // The residual form creates the adaptor first, as before the option existed (same draws).
        adaptor = functionClass == FunctionClass.ResidualMlp ? new ResidualAdaptor(dim, hiddenDim) : null;
        projection = Linear(dim, targetDim);
        RegisterComponents();
    }

    /// <summary>Set the projection to x -> W^T (x - mean) for a (D x d) basis W and a (1 x D) mean (float64 accepted).</summary>
    public void InitialiseProjection(Tensor basis, Tensor mean)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = basis[.., ..TargetDim].t().to_type(ScalarType.Float32);
        projection.weight!.copy_(w);
        projection.bias!.copy_((-w.matmul(mean.to_type(ScalarType.Float32).t())).squeeze(1));
    }

    /// <summary>The adaptor's full-width output e + f(e), before projection (the recovery term reads
    /// it); e itself in the linear form, so the recovery term is zero there.</summary>
    public Tensor Adapt(Tensor embeddings) => adaptor is null ? embeddings : adaptor.forward(embeddings);

    public Tensor Project(Tensor adapted) => projection.forward(adapted);

    public override Tensor forward(Tensor embeddings) => Project(Adapt(embeddings));

    /// <summary>The parameters of the map that compresses (the adaptor, if any, and the projection).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
