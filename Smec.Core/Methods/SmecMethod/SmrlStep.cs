using TorchSharp;
using TorchSharp.Modules;
using Smec.Core.Methods.Baselines;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// One SMRL step: a fully connected layer (input -> output dims), optionally residual, followed by
/// a ladder of nested ADS selections (SMRL: one, the selected half; MRL mode: the whole ladder on one
/// layer). A residual step adds a fixed skip path: the identity when input and output sizes agree,
/// otherwise the previous step's selected dims (skipIndices).
/// Function class (<see cref="SmecOptions.FunctionClass"/>): Linear is the layer alone; ResidualMlp
/// puts a residual MLP x + W2 relu(W1 x) (hidden width = InputDim, W2 starting at zero, so the step
/// starts as the layer alone) on the step's input before the layer. The residual skip above is
/// another thing: a fixed path around the whole step, added to the layer's output.
/// </summary>
public sealed class SmrlStep : nn.Module<Tensor, Tensor>
{
    public int InputDim { get; }
    public int OutputDim { get; }
    public bool Residual { get; }
    public FunctionClass FunctionClass { get; }
    public IReadOnlyList<int> SelectionDims { get; }

    private readonly Linear layer;
    // ResidualMlp only (a null field is not registered, so a linear step's state is what it always was).
    private readonly ResidualAdaptor? mlp;
    private readonly ModuleList<AdaptiveDimensionSelection> selections;
    private readonly Tensor skipIndices; // buffer: [OutputDim] int64 (empty unless residual and non-square)

    public SmrlStep(int inputDim, int outputDim, IReadOnlyList<int> selectionDims, bool adsEnabled, bool residual, long[]? skip = null,
        FunctionClass functionClass = FunctionClass.Linear)
        : base("smrl_step")
    {
        InputDim = inputDim;
        OutputDim = outputDim;
        Residual = residual;
        FunctionClass = functionClass;
        SelectionDims = selectionDims.ToArray();
        layer = nn.Linear(inputDim, outputDim, hasBias: true);
        var from = outputDim;
        selections = new ModuleList<AdaptiveDimensionSelection>();
        foreach (var dim in selectionDims)
        {
            selections.Add(new AdaptiveDimensionSelection(from, dim, adsEnabled));
            from = dim;
        }
        if (residual && inputDim != outputDim && (skip is null || skip.Length != outputDim))
            throw new ArgumentException($"a residual step {inputDim} -> {outputDim} needs {outputDim} skip indices");
        skipIndices = residual && inputDim != outputDim ? tensor(skip!) : zeros(0, dtype: ScalarType.Int64);
        // Created after the layer, so the layer draws what it drew before the option existed.
        mlp = functionClass == FunctionClass.ResidualMlp ? new ResidualAdaptor(inputDim, inputDim) : null;
        RegisterComponents();
    }

    public Linear Layer => layer;
    /// <summary>The residual MLP before the layer (null in the linear form).</summary>
    public ResidualAdaptor? Mlp => mlp;
    public IReadOnlyList<AdaptiveDimensionSelection> Selections => selections.ToList();
    public Tensor SkipIndices => skipIndices;

    /// <summary>The step's full output (size OutputDim).</summary>
    public override Tensor forward(Tensor input)
    {
        var output = layer.forward(mlp is null ? input : mlp.forward(input));
        if (!Residual) return output;
        return output.Add(InputDim == OutputDim ? input : input.index_select(1, skipIndices));
    }

    /// <summary>
    /// The nested selections of an output, each from the previous one. Inference (or ADS off): the
    /// selected dims themselves. Training with ADS: each view keeps the output's full width with zeros
    /// outside its kept dims (see <see cref="AdaptiveDimensionSelection"/>: the gradient must reach
    /// unkept dims), nested selections multiplying their masks; cosine losses see the same values as
    /// on the gathered dims. Each ADS draws one selection here, shared by every row of
    /// <paramref name="output"/> (so pass the whole step's rows at once).
    /// </summary>
    public List<Tensor> Select(Tensor output)
    {
        var views = new List<Tensor>();
        if (!training || selections.Count == 0 || !selections[0].Enabled)
        {
            var current = output;
            foreach (var ads in selections)
            {
                current = ads.forward(current);
                views.Add(current);
            }
            return views;
        }
        foreach (var mask in ViewMasks(OutputDim, output.device, selections.Select(ads => (Func<(Tensor, Tensor)>)ads.Sample).ToArray()))
            views.Add(output * mask);
        return views;
    }

    /// <summary>
    /// The full-width masks [outputDim] of nested ADS selections, one per selection: each ADS chooses
    /// among the columns the previous one kept, and a view's mask is the product of the masks so far.
    /// <paramref name="draws"/> are called in order (one Gumbel draw each, so the noise order is fixed).
    /// One function for a step and an ensemble member (<see cref="SmecStepEnsemble"/>).
    /// </summary>
    public static IReadOnlyList<Tensor> ViewMasks(int outputDim, Device device, IReadOnlyList<Func<(Tensor Kept, Tensor Mask)>> draws)
    {
        var masks = new List<Tensor>(draws.Count);
        // Columns of the output that the next ADS chooses from, and the product of the masks so far.
        var positions = ScalarSafe.Arange(outputDim, device);
        Tensor? mask = null;
        foreach (var draw in draws)
        {
            var (kept, adsMask) = draw();
            var full = zeros(outputDim, device: device).scatter(0, positions, adsMask);
            mask = mask is null ? full : mask * full;
            masks.Add(mask);
            positions = positions.index_select(0, kept);
        }
        return masks;
    }

    /// <summary>The parameters this step trains: the layer and its residual MLP if any (group 0) and the enabled ADS logits (group 1).</summary>
    public (Parameter[] Layer, Parameter[] Logits) TrainableParameters() =>
        (mlp is null ? layer.parameters().ToArray() : [.. layer.parameters(), .. mlp.parameters()], selections.Where(a => a.Enabled).Select(a => a.Logits).ToArray());

    /// <summary>The parameters of the step's map (layer and residual MLP; the ADS logits choose dims and are not counted).</summary>
    public long MapParameterCount => layer.parameters().Sum(p => p.numel()) + (mlp?.ParameterCount ?? 0);
}
