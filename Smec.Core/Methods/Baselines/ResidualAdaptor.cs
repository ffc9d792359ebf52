using Smec.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// The adaptor both Yoon et al. papers use: e' = e + f(e), f a shallow MLP (Linear, ReLU, Linear).
/// The output layer starts at zero, so training starts from the frozen encoder itself (e' = e)
/// and the skip connection carries everything f has not learned yet (inferred initialisation).
/// Optionally the input is first centred on a fixed mean (the corpus mean, as PCA does):
/// x = e - mean, e' = x + f(x).
/// </summary>
public sealed class ResidualAdaptor : Module<Tensor, Tensor>
{
    private readonly Linear hidden;
    private readonly Linear output;

    public int Dim { get; }
    public int HiddenDim { get; }

    private readonly Tensor inputMean;

    public ResidualAdaptor(int dim, int hiddenDim) : base(nameof(ResidualAdaptor))
    {
        if (dim <= 0 || hiddenDim <= 0) throw new ArgumentException($"adaptor dims must be positive, got {dim} and {hiddenDim}");
        Dim = dim;
        HiddenDim = hiddenDim;
        // A persistent buffer, so a saved adaptor keeps its centring; zero = no centring.
        inputMean = zeros(1, dim);
        hidden = Linear(dim, hiddenDim);
        output = Linear(hiddenDim, dim);
        using (no_grad())
        {
            output.weight!.zero_();
            output.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>Centre every input on <paramref name="mean"/> (1 x D) from now on (before training).</summary>
    public void CentreOn(Tensor mean)
    {
        using var _ = no_grad();
        inputMean.copy_(mean.reshape(1, Dim));
    }

    /// <summary>The adaptor's input: e minus the fixed mean (e itself without centring).</summary>
    public Tensor Centre(Tensor embeddings) => embeddings - inputMean;

    public override Tensor forward(Tensor embeddings)
    {
        var x = Centre(embeddings);
        return x.Add(output.forward(functional.relu(hidden.forward(x))));
    }
}
