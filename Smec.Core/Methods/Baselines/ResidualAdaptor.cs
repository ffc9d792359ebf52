using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// The adaptor both Yoon et al. papers use: e' = e + f(e), f a shallow MLP (Linear, ReLU, Linear).
/// The output layer starts at zero, so training starts from the frozen encoder itself (e' = e)
/// and the skip connection carries everything f has not learned yet (inferred initialisation).
/// </summary>
public sealed class ResidualAdaptor : Module<Tensor, Tensor>
{
    private readonly Linear hidden;
    private readonly Linear output;

    public int Dim { get; }
    public int HiddenDim { get; }

    public ResidualAdaptor(int dim, int hiddenDim) : base(nameof(ResidualAdaptor))
    {
        if (dim <= 0 || hiddenDim <= 0) throw new ArgumentException($"adaptor dims must be positive, got {dim} and {hiddenDim}");
        Dim = dim;
        HiddenDim = hiddenDim;
        hidden = Linear(dim, hiddenDim);
        output = Linear(hiddenDim, dim);
        using (no_grad())
        {
            output.weight!.zero_();
            output.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>f(e) alone: what the adaptor adds to the frozen embedding.</summary>
    public Tensor Residual(Tensor embeddings) => output.forward(functional.relu(hidden.forward(embeddings)));

    public override Tensor forward(Tensor embeddings) => embeddings + Residual(embeddings);
}
