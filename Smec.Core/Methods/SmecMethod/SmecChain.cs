using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// The frozen-encoder -> compressed-embedding chain: SMRL steps in order. Compressing to a trained
/// size runs the chain only as far as needed (see <see cref="DimSource"/>). The forward pass of the
/// module is the chain's smallest output.
/// </summary>
public sealed class SmecChain : nn.Module<Tensor, Tensor>
{
    // A plain list plus register_module per step: a ModuleList filled after RegisterComponents does
    // not pass train()/eval() or state_dict() on to its items in TorchSharp 0.107.
    private readonly List<SmrlStep> steps = [];

    public StepInput StepInputMode { get; }
    /// <summary>The source of a duplicated dim without a per-dim choice.</summary>
    public DimSource DimSource { get; }
    /// <summary>Per duplicated dim, the source chosen on validation (overrides <see cref="DimSource"/>).</summary>
    public Dictionary<int, DimSource> ChosenSources { get; } = new();

    /// <summary>The source that serves <paramref name="dim"/>.</summary>
    public DimSource SourceFor(int dim) => ChosenSources.TryGetValue(dim, out var chosen) ? chosen
        : DimSource == DimSource.Validation ? DimSource.Selection : DimSource;

    /// <summary>Dims the chain produces twice (a step's selection and a later step's full output).</summary>
    public IReadOnlyList<int> DuplicatedDims => steps.SelectMany(s => s.SelectionDims.Prepend(s.OutputDim))
        .GroupBy(d => d).Where(g => g.Count() > 1).Select(g => g.Key).OrderDescending().ToArray();

    public SmecChain(StepInput stepInput, DimSource dimSource) : base("smec_chain")
    {
        StepInputMode = stepInput;
        DimSource = dimSource;
        RegisterComponents();
    }

    public IReadOnlyList<SmrlStep> Steps => steps;

    // Per-dim selection: step (0-based) and selection dim -> a copy of that step holding its best weights at that dim.
    private readonly SortedDictionary<(int Step, int Dim), SmrlStep> selectionSnapshots = new();

    /// <summary>Per-dim selection: the steps' selection dims served from their own best snapshot (step is 0-based).</summary>
    public IReadOnlyCollection<(int Step, int Dim)> SelectionSnapshots => selectionSnapshots.Keys;

    /// <summary>Serve selection dim <paramref name="dim"/> of step <paramref name="index"/> (0-based) from
    /// <paramref name="snapshot"/>, a step of the same shape holding that dim's best weights; the chain itself
    /// (what feeds later steps) keeps the step's own weights.</summary>
    public void AddSelectionSnapshot(int index, int dim, SmrlStep snapshot)
    {
        var step = steps[index];
        if (!step.SelectionDims.Contains(dim)) throw new ArgumentException($"step {index + 1} selects [{string.Join(", ", step.SelectionDims)}], not {dim}");
        if (snapshot.InputDim != step.InputDim || snapshot.OutputDim != step.OutputDim || !snapshot.SelectionDims.SequenceEqual(step.SelectionDims))
            throw new ArgumentException($"the snapshot of step {index + 1} at {dim} has another shape than the step");
        register_module($"step{index + 1}_at{dim}", snapshot);
        selectionSnapshots[(index, dim)] = snapshot;
    }

    /// <summary>The snapshot that serves selection dim <paramref name="dim"/> of step <paramref name="index"/>, if any.</summary>
    public SmrlStep? SelectionSnapshot(int index, int dim) => selectionSnapshots.GetValueOrDefault((index, dim));

    public void AddStep(SmrlStep step)
    {
        if (steps.Count > 0 && step.InputDim != NextStepInputDim)
            throw new ArgumentException($"step {steps.Count + 1} takes {step.InputDim} dims but the chain feeds it {NextStepInputDim}");
        register_module($"step{steps.Count + 1}", step);
        steps.Add(step);
    }

    /// <summary>The size the next step would receive (StepInput.Full: the last output; SelectedHalf: its selection).</summary>
    public int NextStepInputDim => StepInputMode == SmecMethod.StepInput.Full || steps[^1].SelectionDims.Count == 0
        ? steps[^1].OutputDim
        : steps[^1].SelectionDims[0];

    /// <summary>Every dim the chain can produce, descending.</summary>
    public IReadOnlyList<int> Dims => steps.SelectMany(s => s.SelectionDims.Prepend(s.OutputDim)).Distinct().OrderDescending().ToArray();

    /// <summary>The input of step <paramref name="index"/> (0-based): raw input through steps 0..index-1.</summary>
    public Tensor StepInput(Tensor input, int index)
    {
        var current = input;
        for (var i = 0; i < index; i++)
        {
            var output = steps[i].forward(current);
            current = StepInputMode == SmecMethod.StepInput.Full ? output : steps[i].Select(output)[0];
        }
        return current;
    }

    /// <summary>The (not normalised) embedding of size <paramref name="dim"/>, from the output the chain's
    /// DimSource names (or <paramref name="source"/>, to compare the two). Call in eval mode.</summary>
    public Tensor Compress(Tensor input, int dim, DimSource? source = null)
    {
        var dimSource = source ?? SourceFor(dim);
        Tensor? found = null;
        var current = input;
        for (var index = 0; index < steps.Count; index++)
        {
            var step = steps[index];
            var output = step.forward(current);
            var selections = step.Select(output);
            var candidates = selections.Prepend(output);
            foreach (var candidate in candidates)
            {
                if (candidate.shape[1] != dim) continue;
                // A selection dim with its own best snapshot (per-dim selection) comes from that snapshot.
                found = !ReferenceEquals(candidate, output) && SelectionSnapshot(index, dim) is { } snapshot
                    ? snapshot.Select(snapshot.forward(current)).First(v => v.shape[1] == dim)
                    : candidate;
                if (dimSource != DimSource.StepOutput) return found;
            }
            current = StepInputMode == SmecMethod.StepInput.Full ? output : selections[0];
        }
        return found ?? throw new ArgumentException($"this SMEC chain produces dims [{string.Join(", ", Dims)}], not {dim}");
    }

    public override Tensor forward(Tensor input) => Compress(input, Dims[^1]);
}
