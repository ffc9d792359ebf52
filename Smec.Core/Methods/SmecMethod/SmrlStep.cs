using TorchSharp;
using TorchSharp.Modules;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// One SMRL step: a fully connected layer (input -> output dims), optionally residual, followed by
/// a ladder of nested ADS selections (SMRL: one, the selected half; MRL mode: the whole ladder on one
/// layer). A residual step adds a fixed skip path: the identity when input and output sizes agree,
/// otherwise the previous step's selected dims (skipIndices).
/// </summary>
public sealed class SmrlStep : nn.Module<Tensor, Tensor>
{
    public int InputDim { get; }
    public int OutputDim { get; }
    public bool Residual { get; }
    public IReadOnlyList<int> SelectionDims { get; }

    private readonly Linear layer;
    private readonly ModuleList<AdaptiveDimensionSelection> selections;
    private readonly Tensor skipIndices; // buffer: [OutputDim] int64 (empty unless residual and non-square)

    public SmrlStep(int inputDim, int outputDim, IReadOnlyList<int> selectionDims, bool adsEnabled, bool residual, long[]? skip = null)
        : base("smrl_step")
    {
        InputDim = inputDim;
        OutputDim = outputDim;
        Residual = residual;
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
        RegisterComponents();
    }

    public Linear Layer => layer;
    public IReadOnlyList<AdaptiveDimensionSelection> Selections => selections.ToList();
    public Tensor SkipIndices => skipIndices;

    /// <summary>The step's full output (size OutputDim).</summary>
    public override Tensor forward(Tensor input)
    {
        var output = layer.forward(input);
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
        // Columns of the output that the next ADS chooses from, and the product of the masks so far.
        var positions = ScalarSafe.Arange(OutputDim, output.device);
        Tensor? mask = null;
        foreach (var ads in selections)
        {
            var (kept, adsMask) = ads.Sample();
            var full = zeros(OutputDim, device: output.device).scatter(0, positions, adsMask);
            mask = mask is null ? full : mask * full;
            views.Add(output * mask);
            positions = positions.index_select(0, kept);
        }
        return views;
    }

    /// <summary>The parameters this step trains: the layer (group 0) and the enabled ADS logits (group 1).</summary>
    public (Parameter[] Layer, Parameter[] Logits) TrainableParameters() =>
        (layer.parameters().ToArray(), selections.Where(a => a.Enabled).Select(a => a.Logits).ToArray());
}
