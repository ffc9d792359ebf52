using Smec.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// The adaptor both Yoon et al. papers use: e' = e + f(e), f a shallow MLP (Linear, ReLU, Linear).
/// The output layer starts at zero, so training starts from the frozen encoder itself (e' = e)
/// and the skip connection carries everything f has not learned yet (inferred initialisation).
/// That is <see cref="FunctionClass.ResidualMlp"/>. <see cref="FunctionClass.Linear"/> (the option
/// function_class=linear) drops the hidden layer: e' = e + W e + b, one affine map, W and b starting
/// at zero. Why x + Wx rather than an affine map initialised to the identity (the same function):
/// the start is the same as the residual MLP's, and weight decay pulls W towards zero, i.e. the map
/// towards the identity (the frozen encoder), as it pulls the residual MLP's branch; decay on a
/// plain affine map would pull it towards the zero map, which no embedding wants.
/// Optionally the input is first mapped by a fixed affine change of basis, x = (e - mean) B with
/// B orthonormal (the corpus mean and PCA basis), then e' = x + f(x): full-width cosines of x
/// are the centred cosines of e, and the prefixes start as PCA's.
/// </summary>
public sealed class ResidualAdaptor : Module<Tensor, Tensor>
{
    // Field names are the state-dict keys of saved models ("hidden.weight", "output.weight", ...):
    // keep them. Linear form: no hidden layer (null fields are not registered).
    private readonly Linear? hidden;
    private readonly Linear output;

    public int Dim { get; }
    /// <summary>Width of f's hidden layer; 0 in the linear form (it has none).</summary>
    public int HiddenDim { get; }
    public FunctionClass FunctionClass { get; }

    private readonly Tensor inputMean;
    private readonly Tensor inputBasis;

    /// <param name="hiddenDim">f's hidden width (ResidualMlp); ignored (0) in the linear form.</param>
    public ResidualAdaptor(int dim, int hiddenDim, FunctionClass functionClass = FunctionClass.ResidualMlp) : base(nameof(ResidualAdaptor))
    {
        var linear = functionClass == FunctionClass.Linear;
        if (dim <= 0 || (!linear && hiddenDim <= 0)) throw new ArgumentException($"adaptor dims must be positive, got {dim} and {hiddenDim}");
        Dim = dim;
        HiddenDim = linear ? 0 : hiddenDim;
        FunctionClass = functionClass;
        // Persistent buffers, so a saved adaptor keeps its input map; zero mean and identity = none.
        inputMean = zeros(1, dim);
        inputBasis = eye(dim);
        // The residual MLP creates its layers in this order, as before the option existed (same draws).
        hidden = linear ? null : Linear(dim, hiddenDim);
        output = Linear(linear ? dim : hiddenDim, dim);
        using (no_grad())
        {
            output.weight!.zero_();
            output.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>Map every input by x = (e - mean) basis from now on (set before training; basis D x D orthonormal).</summary>
    public void SetInputMap(Tensor mean, Tensor? basis = null)
    {
        using var _ = no_grad();
        inputMean.copy_(mean.reshape(1, Dim));
        if (basis is not null) inputBasis.copy_(basis);
        _hasInputMap = null;
    }

    /// <summary>The adaptor's input x = (e - mean) basis (e itself when no input map was set).</summary>
    public Tensor Centre(Tensor embeddings) => HasInputMap() ? embeddings.sub(inputMean).matmul(inputBasis) : embeddings;

    /// <summary>
    /// Whether the buffers hold a map other than the identity (zero mean, identity basis). Why: without
    /// a map the product with the identity is a third of Search-Adaptor's forward pass and changes no
    /// value. Read from the buffers themselves, so a loaded model answers for its own map, and kept:
    /// the comparison costs ~170 us, twice per Search-Adaptor step. The buffers change only through
    /// SetInputMap (which forgets the answer) or a state loaded into a new adaptor before its first use.
    /// </summary>
    private bool HasInputMap()
    {
        if (_hasInputMap is { } known) return known;
        using var scope = NewDisposeScope();
        using var identity = eye(Dim, device: inputBasis.device);
        _hasInputMap = inputMean.count_nonzero().item<long>() != 0 || !inputBasis.eq(identity).all().item<bool>();
        return _hasInputMap.Value;
    }

    private bool? _hasInputMap;

    public override Tensor forward(Tensor embeddings) => ForwardCentred(Centre(embeddings));

    /// <summary>x + f(x) for an input already mapped by <see cref="Centre"/>: a loss that also needs x
    /// (the similarity targets) maps its batch once instead of twice.</summary>
    public Tensor ForwardCentred(Tensor x) =>
        x.Add(output.forward(hidden is null ? x : functional.relu(hidden.forward(x))));

    /// <summary>Its trained parameters (weights and biases; the input map is a fixed buffer).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
