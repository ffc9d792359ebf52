using Smec.Core.Losses;
using Smec.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>One member of a SMEC step ensemble: its step (step <paramref name="Index"/> of its chain: initial
/// weights and ADS logits in, best weights out; earlier steps frozen), its training data (its fold and
/// validation queries), its loop seed and its loss form (a grid point).</summary>
public sealed record SmecStepMember(SmecChain Chain, int Index, TrainingSet Set, long Seed, RankingLossForm Form)
{
    public SmrlStep Step => Chain.Steps[Index];
}

/// <summary>
/// One SMEC step (SMRL, ADS and S-XBM on) for K members at once, on <see cref="EnsembleTrainingLoop"/>: the
/// K layers are one [K, out, in] weight and one [K, out] bias, each ADS level's logits one [K, dims]
/// parameter in its own group (the ADS learning-rate scale, no weight decay). Each member draws its ADS
/// noise from its own step generator as its step alone draws it, and keeps its own S-XBM memory
/// (<see cref="SmecStepMemories"/>). Member k computes what <see cref="SmrlStepObjective"/> computes for its
/// step alone (tests/Smec.Tests/EnsembleTests.fs compares them).
/// Members may differ by seed, training set (fold), loss form and initial weights/logits (an ADS
/// initialisation). They share the options otherwise, the ADS learning-rate scale included: the
/// loop's optimizer has one learning rate per parameter group, not per member.
/// The residual-MLP function class: each member's MLP before its layer, stacked the same way (<see cref="StepMlps"/>).
/// Not here: residual steps, the similarity term and docs as S-XBM anchors (each refused with a clear
/// error: train those steps alone).
/// </summary>
public sealed class SmecStepEnsemble : RetrievalEnsembleTask
{
    private readonly IReadOnlyList<SmecStepMember> _members;
    private readonly SmecOptions _options;
    private readonly Parameter _weight, _bias;
    /// <summary>The members' residual MLPs before their layers (null in the linear form).</summary>
    private readonly StepMlps? _mlps;
    /// <summary>Per ADS level (nested selections in order), [K, that level's input width]; empty with ADS off.</summary>
    private readonly Parameter[] _logits;
    private readonly int _outputDim;
    private readonly int[] _selectionDims;
    private readonly RankingLossForm[] _forms;
    /// <summary>Per member its step input for every item ([Nc + Nq, in]); the shared items themselves for a first step.</summary>
    private readonly Tensor[] _stepInputs;
    private readonly bool _inputsAreItems;
    private readonly ItemCosines? _ownedCosines;
    private readonly SmecStepMemories? _memories;
    private IReadOnlyList<BatchRows>? _lastRows;

    /// <summary>Train the members together; each member's step then holds its best-validation weights and logits.</summary>
    /// <param name="options">Shared by every member (the loss form is each member's own); its <see cref="SmecOptions.Selection"/>
    /// is the loop's, as SmecCompressor passes it to TrainingLoop (PerDim: each member's per-dim snapshots come back in its result).</param>
    /// <param name="cosines">S-XBM's anchor-cosine table for the members' data (null: built here, once for all members).</param>
    public static IReadOnlyList<TrainingResult> Train(IReadOnlyList<SmecStepMember> members, SmecOptions options, TrainingOptions training, ItemCosines? cosines = null)
    {
        using var ensemble = new SmecStepEnsemble(members, options, training, cosines);
        return ensemble.Train(training, options.Selection);
    }

    /// <summary>Why SMEC steps with these options are not members of a step ensemble (null: they are), naming the option.</summary>
    public static string? Unsupported(SmecOptions options)
    {
        var refused = new List<string>();
        // Its batched weights are one layer per member (with its MLP in the residual-MLP form): no skip path around it.
        if (options.Residual) refused.Add("residual=true (expected false: no skip path)");
        // Its batch holds each member's queries and docs only, not the similarity term's random docs.
        if (options.SimilarityWeight > 0) refused.Add($"similarity_weight={options.SimilarityWeight.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} (expected 0)");
        // Its memories search with each member's queries as anchors, not its docs.
        if (options.SxbmAnchors != SxbmAnchors.Queries) refused.Add("sxbm_anchors=queries-and-docs (expected queries)");
        return refused.Count == 0 ? null
            : $"the SMEC step ensemble trains steps without a skip path, with queries as S-XBM anchors; got {string.Join(", ", refused)}: fit those members alone (SmecCompressor.Fit)";
    }

    public SmecStepEnsemble(IReadOnlyList<SmecStepMember> members, SmecOptions options, TrainingOptions training, ItemCosines? cosines = null)
        : base(members.Select(m => new EnsembleMemberData(m.Set, m.Seed)).ToArray(), training, "SMEC step ensemble")
    {
        Check(members, options);
        var first = members[0].Step;
        _members = members;
        _options = options;
        _outputDim = first.OutputDim;
        _selectionDims = first.SelectionDims.ToArray();
        _forms = members.Select(m => m.Form).ToArray();
        using (no_grad())
        {
            _weight = new Parameter(stack(members.Select(m => m.Step.Layer.weight!.detach()).ToArray()).contiguous());
            _bias = new Parameter(stack(members.Select(m => m.Step.Layer.bias!.detach()).ToArray()).contiguous());
            _mlps = StepMlps.Of(members.Select(m => m.Step).ToArray(), "SMEC step ensemble");
            _logits = options.Ads
                ? Enumerable.Range(0, _selectionDims.Length)
                    .Select(l => new Parameter(stack(members.Select(m => m.Step.Selections[l].Logits.detach()).ToArray()).contiguous())).ToArray()
                : [];
            _stepInputs = SharedStepInputs(members, Items);
        }
        // A first step's input is the frozen items themselves: one table for every member, not K copies.
        _inputsAreItems = _stepInputs.All(t => ReferenceEquals(t, Items));
        // The layer, then its MLP, as the step alone lists them (SmrlStep.TrainableParameters).
        Parameter[] layer = [_weight, _bias, .. _mlps?.Parameters ?? []];
        ParameterGroups = _logits.Length == 0
            ? [new ParameterGroup(layer)]
            : [new ParameterGroup(layer), new ParameterGroup(_logits, options.AdsLearningRateScale, WeightDecay: 0.0)];
        if (options.Sxbm)
        {
            // One anchor-cosine table for all members (the union of their anchors: a row does not depend on which others are built).
            _ownedCosines = cosines is null ? ItemCosines.TryBuild(Items, members.SelectMany(m => SmrlStepObjective.AnchorItems(m.Set, options)).Distinct().ToArray()) : null;
            _memories = new SmecStepMemories(members.Select(m => m.Set).ToArray(), options, Items, CorpusRows, cosines ?? _ownedCosines);
        }
    }

    /// <summary>Each member's step input for every item. A first step's is the items themselves; a later step's is
    /// computed through the member's frozen chain, and members whose frozen prefixes give the same table share one
    /// (K members of one chain's grid: one table, not K).</summary>
    private static Tensor[] SharedStepInputs(IReadOnlyList<SmecStepMember> members, Tensor items)
    {
        var kept = new List<Tensor>();
        return members.Select(m =>
        {
            m.Chain.eval();
            var input = m.Chain.StepInput(items, m.Index);
            if (ReferenceEquals(input, items)) return input;
            var same = kept.FirstOrDefault(t => t.shape.SequenceEqual(input.shape) && Same(t, input));
            if (same is not null) { input.Dispose(); return same; }
            input = input.DetachFromDisposeScope();
            kept.Add(input);
            return input;
        }).ToArray();
    }

    private static bool Same(Tensor a, Tensor b)
    {
        using var equal = a.eq(b).all();
        return equal.item<bool>();
    }

    private static void Check(IReadOnlyList<SmecStepMember> members, SmecOptions options)
    {
        if (Unsupported(options) is { } why) throw new ArgumentException(why);
        var first = members[0].Step;
        foreach (var (step, k) in members.Select((m, k) => (m.Step, k)))
            if (step.Residual || step.FunctionClass != options.FunctionClass || step.InputDim != first.InputDim || step.OutputDim != first.OutputDim
                || !step.SelectionDims.SequenceEqual(first.SelectionDims) || step.Selections.Any(a => a.Enabled != options.Ads))
                throw new ArgumentException($"SMEC step member {k}: a {(step.Residual ? "residual " : "")}{step.FunctionClass} {step.InputDim}->{step.OutputDim} step with views " +
                    $"[{string.Join(",", step.SelectionDims)}]; expected member 0's {options.FunctionClass} {first.InputDim}->{first.OutputDim} step without a skip path, with views " +
                    $"[{string.Join(",", first.SelectionDims)}] and ADS {(options.Ads ? "on" : "off")} as the options say");
    }

    public override IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    /// <summary>[K, out, in]: every member's layer weight (tests read it).</summary>
    public Tensor Weight => _weight;

    /// <summary>Bytes of the tables the ensemble holds once for all members: the frozen items, the anchor-cosine table it
    /// built, and each distinct later-step input table (the sizing rule's shared part; tests compare).</summary>
    public long SharedTableBytes =>
        new[] { Items }.Concat(_stepInputs.Where(t => !ReferenceEquals(t, Items)).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>()).Sum(Bytes) + (_ownedCosines?.Bytes ?? 0);

    /// <summary>The distinct step input tables (1 for a first step: the items themselves).</summary>
    public int StepInputTables => _stepInputs.Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().Count();

    /// <summary>Bytes of member <paramref name="member"/>'s S-XBM memory (0 with S-XBM off).</summary>
    public long MemoryBytes(int member) => _memories is null ? 0
        : new[] { _memories.Of(member).Embeddings, _memories.Of(member).Normalised, _memories.Of(member).ItemIds, _memories.Of(member).Cursor }.Sum(Bytes);

    private static long Bytes(Tensor t) => t.NumberOfElements * t.ElementSize;

    /// <summary>S-XBM's per-member memories (null with S-XBM off).</summary>
    internal SmecStepMemories? Memories => _memories;

    protected override Tensor Losses(EnsembleBatch batch, Tensor items, IReadOnlyList<TrainingStep> steps, IReadOnlyList<BatchRows> rows)
    {
        _lastRows = rows;
        var step = steps[0].Step;
        var device = items.device;
        var memoryStart = batch.Queries + batch.Docs;
        var pairs = _memories?.Pairs(step, rows, memoryStart);
        // Each member's rows: its queries and padded docs, then its memory items (padded to the longest with its
        // first query's item: a row no index names). Built from the host rows: no read back from the device.
        var rowItems = batch.Items;
        if (pairs is { } p)
        {
            var width = p.Items.Max(i => i.Length);
            var padded = new long[p.Items.Length * width];
            for (var k = 0; k < p.Items.Length; k++)
                for (var j = 0; j < width; j++)
                    padded[k * width + j] = j < p.Items[k].Length ? p.Items[k][j] : CorpusRows + rows[k].QueryRows[0];
            rowItems = cat([batch.Items, tensor(padded, [p.Items.Length, width], device: device)], 1);
        }
        var flat = rowItems.flatten();
        var teacher = items.index_select(0, flat).view(rowItems.shape[0], rowItems.shape[1], -1);
        var inputs = _inputsAreItems ? teacher
            : stack(_stepInputs.Select((table, k) => table.index_select(0, rowItems[k])).ToArray());
        if (_mlps is not null) inputs = _mlps.Adapt(inputs);
        var temperature = _options.AdsTemperature(step);
        IReadOnlyList<Tensor>? masks = null;
        if (_logits.Length > 0)
        {
            // Each member's levels drawn in order from its own generator, as its step alone draws them.
            var perMember = Enumerable.Range(0, _members.Count).Select(k => SmrlStep.ViewMasks(_outputDim, device,
                _logits.Select((logits, l) => (Func<(Tensor, Tensor)>)(() =>
                    AdaptiveDimensionSelection.Sample(logits[k], _selectionDims[l], temperature, steps[k].Generator))).ToArray())).ToArray();
            masks = Enumerable.Range(0, _logits.Length).Select(l => stack(perMember.Select(m => m[l]).ToArray())).ToArray();
        }
        SmecStepEnsembleLoss.MemoryPairs? memory = pairs is { } chosen
            ? SmecStepEnsembleLoss.MemoryPairs.Of(chosen.Index, chosen.Valid, rowItems.shape[1], device)
            : null;
        return SmecStepEnsembleLoss.Compute(_weight, _bias, inputs, teacher, masks, _selectionDims, batch, memory, _forms, _options);
    }

    public override void AfterStep(IReadOnlyList<TrainingStep> steps)
    {
        if (_memories is not null && _lastRows is not null) _memories.Enqueue(_lastRows);
    }

    protected override IReadOnlyList<int> ValidationDims(int member) => _selectionDims.Prepend(_outputDim).ToArray();

    /// <summary>The member's output and its inference selections (SmrlStepObjective.CompressEach for its step).</summary>
    protected override IReadOnlyList<Tensor> CompressEach(int member, Tensor embeddings, IReadOnlyList<int> dims)
    {
        var chain = _members[member].Chain;
        chain.eval();
        var input = chain.StepInput(embeddings, _members[member].Index);
        var output = nn.functional.linear(_mlps is null ? input : _mlps.AdaptMember(member, input), _weight[member], _bias[member]);
        var views = new List<Tensor> { output };
        var current = output;
        for (var l = 0; l < _selectionDims.Length; l++)
        {
            current = _logits.Length == 0
                ? current.narrow(1, 0, _selectionDims[l])
                : current.index_select(1, tensor(AdaptiveDimensionSelection.TopIndices(_logits[l][member], _selectionDims[l]), device: current.device));
            views.Add(current);
        }
        return dims.Select(dim => views.First(v => v.shape[1] == dim)).ToArray();
    }

    /// <summary>Copy every member's weights and logits into its own step (after training: its best ones).</summary>
    protected override void WriteBack()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (var k = 0; k < _members.Count; k++)
        {
            var step = _members[k].Step;
            step.Layer.weight!.copy_(_weight[k]);
            step.Layer.bias!.copy_(_bias[k]);
            _mlps?.WriteBack(k, step);
            for (var l = 0; l < _logits.Length; l++) step.Selections[l].Logits.copy_(_logits[l][k]);
        }
    }

    public override void Dispose()
    {
        _memories?.Dispose();
        _ownedCosines?.Dispose();
        foreach (var t in _stepInputs.Where(t => !ReferenceEquals(t, Items)).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>()) t.Dispose();
        _weight.Dispose();
        _bias.Dispose();
        _mlps?.Dispose();
        foreach (var l in _logits) l.Dispose();
        base.Dispose();
    }
}
