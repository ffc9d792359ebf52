using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Search-Adaptor as a compression baseline at one target dimension d: the residual adaptor at full
/// width followed by its own linear projection to d (the SMEC paper draws one separate adaptor per
/// target dimension). The projection starts as the corpus PCA (so step 0 is the PCA baseline) or
/// as the prefix (step 0 is truncation); see <see cref="SearchAdaptorOptions.ProjectionInit"/>.
/// </summary>
public sealed class SearchAdaptorModel : Module<Tensor, Tensor>
{
    private readonly ResidualAdaptor adaptor;
    private readonly Linear projection;

    public int TargetDim { get; }
    public int InputDim => adaptor.Dim;
    public int HiddenDim => adaptor.HiddenDim;

    public SearchAdaptorModel(int dim, int hiddenDim, int targetDim) : base(nameof(SearchAdaptorModel))
    {
        if (targetDim <= 0 || targetDim > dim) throw new ArgumentException($"target dim {targetDim} must be within 1..{dim}");
        TargetDim = targetDim;
        adaptor = new ResidualAdaptor(dim, hiddenDim);
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

    /// <summary>The adaptor's full-width output e + f(e), before projection (the recovery term reads it).</summary>
    public Tensor Adapt(Tensor embeddings) => adaptor.forward(embeddings);

    public Tensor Project(Tensor adapted) => projection.forward(adapted);

    public override Tensor forward(Tensor embeddings) => Project(Adapt(embeddings));
}
