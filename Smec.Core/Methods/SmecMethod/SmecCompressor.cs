using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Smec.Core.Losses;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using Smec.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// SMEC as an <see cref="ICompressor"/>: SMRL steps (each trained by the shared loop, then frozen) with
/// ADS and S-XBM, or the ablations the options switch off. A trained model saves as a
/// <see cref="SavedModel"/> (options, ADS indices and per-step training results in its config, the
/// chain's weights as tensors) and loads with <see cref="Load(string)"/>.
/// </summary>
public sealed partial class SmecCompressor : ICompressor, IValidationScored
{
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "smec";

    public SmecOptions Options { get; }
    public TrainingOptions Training { get; }
    public SmecChain Chain { get; private set; }
    /// <summary>Per step: what the loop reported (best validation nDCG@10, steps, seconds).</summary>
    public List<StepRecord> StepRecords { get; } = [];

    /// <summary>One SMRL step: the kept grid point's validation result, what the grid tried and the steps run over all of it;
    /// <see cref="History"/>: each grid point's validation curve, so a step that keeps its start shows what training did;
    /// <see cref="SelectionSteps"/> (per-dim selection): each selection dim's snapshot step, null when the step's own weights serve them.</summary>
    public sealed record StepRecord(int Step, int InputDim, int OutputDim, int[] SelectionDims, double BestValidationNdcg10,
        int BestStep, int StepsRun, bool StoppedEarly, double Seconds, string Chosen = "", string Grid = "", int GridStepsRun = 0,
        string History = "", Dictionary<int, int>? SelectionSteps = null);

    /// <summary>Validation nDCG@10 of each served dim after Fit, and per duplicated dim both sources' scores.</summary>
    public SortedDictionary<int, double> ValidationCurve { get; } = new();
    public List<(int Dim, double Selection, double StepOutput)> SourceScores { get; } = [];

    /// <summary>Every loop run of the last Fit: step (1-based), grid point and what the loop reported (its
    /// validation history; per-dim bests without their weights, which the chain or a snapshot now holds).</summary>
    public List<(int Step, string Point, TrainingResult Result)> TrainingRuns { get; } = [];

    /// <summary>The validation nDCG@10 of each served dim after Fit (<see cref="ValidationCurve"/>).</summary>
    public IReadOnlyDictionary<int, double> ValidationNdcgByDim => ValidationCurve;

    public SmecCompressor(SmecOptions options, TrainingOptions? training = null)
    {
        options.Validate();
        Options = options;
        Training = training ?? new TrainingOptions();
        Chain = new SmecChain(options.StepInput, options.DimSource);
    }

    public string Name => (Options.Smrl, Options.Ads, Options.Sxbm) switch
    {
        (true, true, true) => "SMEC",
        (false, false, false) => "SMEC (none: MRL)",
        var (smrl, ads, sxbm) => "SMEC w/o " + string.Join("+", new[] { (!smrl, "SMRL"), (!ads, "ADS"), (!sxbm, "S-XBM") }.Where(x => x.Item1).Select(x => x.Item2)),
    };

    public IReadOnlyList<int> Dims => Chain.Steps.Count == 0 ? [] : Chain.Dims;

    /// <summary>A loaded model's settings as they were saved (its training options are not rebuilt).</summary>
    private IReadOnlyDictionary<string, string>? _savedSettings;

    public IReadOnlyDictionary<string, string> Settings
    {
        get
        {
            if (_savedSettings is not null) return _savedSettings;
            var settings = new SortedDictionary<string, string>();
            foreach (var (k, v) in Options.Describe()) settings[k] = v;
            foreach (var (k, v) in Training.Describe()) settings[k] = v;
            foreach (var r in StepRecords)
            {
                settings[$"result.step{r.Step}"] = string.Create(CultureInfo.InvariantCulture,
                    $"{r.InputDim}->{r.OutputDim}->[{string.Join(",", r.SelectionDims)}] val_ndcg10={r.BestValidationNdcg10:F4} best_step={r.BestStep} steps={r.StepsRun} seconds={r.Seconds:F1}");
                if (r.Chosen != "") settings[$"result.step{r.Step}.chosen"] = r.Chosen;
                if (r.Grid != "") settings[$"result.step{r.Step}.grid"] = r.Grid;
                if (r.History != "") settings[$"result.step{r.Step}.history"] = r.History;
            }
            foreach (var (dim, selection, stepOutput) in SourceScores)
                settings[$"result.dim_source@{dim}"] = string.Create(CultureInfo.InvariantCulture,
                    $"{Chain.SourceFor(dim)} (validation nDCG@10: Selection {selection:F4}, StepOutput {stepOutput:F4}{(Options.DimSource == DimSource.Validation ? ", chosen on validation" : ", fixed by option")})");
            if (ValidationCurve.Count > 0)
            {
                settings["result.validation_curve"] = string.Join(" ", ValidationCurve.Reverse().Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}:{kv.Value:F4}")));
                settings["result.validation_monotone"] = MonotoneNote();
            }
            if (StepRecords.Count > 0)
                foreach (var (key, value) in Protocol().Describe()) settings[key] = value;
            foreach (var dim in Dims) settings[SelectedSteps.Key(dim)] = SelectedSteps.Format(SelectedStepsAt(dim));
            return settings;
        }
    }

    /// <summary>
    /// The step each trained part serving <paramref name="dim"/> selected on validation, as
    /// <see cref="SmecChain.Compress"/> serves it: the chain up to the step that gives the dim (the first
    /// that makes it, or the last when its source is the step output). Earlier steps feed it with their
    /// own weights (per-dim selection: their output dim's best); the giving step is its own weights for
    /// its output, or the dim's snapshot for a selection dim that has one.
    /// </summary>
    private IEnumerable<int> SelectedStepsAt(int dim)
    {
        bool Gives(SmrlStep s) => s.OutputDim == dim || s.SelectionDims.Contains(dim);
        var steps = Chain.Steps;
        var giving = Chain.SourceFor(dim) == DimSource.StepOutput
            ? steps.Select((s, i) => (s, i)).Last(x => Gives(x.s)).i
            : steps.Select((s, i) => (s, i)).First(x => Gives(x.s)).i;
        for (var i = 0; i < giving; i++) yield return StepRecords[i].BestStep;
        var last = StepRecords[giving];
        var viaSelection = steps[giving].OutputDim != dim;
        yield return viaSelection && Chain.SelectionSnapshot(giving, dim) is not null && last.SelectionSteps?.TryGetValue(dim, out var atDim) == true
            ? atDim
            : last.BestStep;
    }

    /// <summary>Train from scratch: every SMRL step in turn (or the one MRL-style layer when SMRL is off),
    /// then choose the source of each duplicated dim on validation (unless the options fix it).</summary>
    public void Fit(TrainingData data)
    {
        Determinism.Seed(data.Seed);
        if (data.Corpus.Dim != Options.InputDim)
            throw new ArgumentException($"SMEC ladder starts at {Options.InputDim} dims but the embeddings have {data.Corpus.Dim}");
        Chain = new SmecChain(Options.StepInput, Options.DimSource);
        _savedSettings = null;
        StepRecords.Clear();
        TrainingRuns.Clear();
        using var set = new TrainingSet(data, Training.HardNegativePool);
        using var cosines = BuildCosines(set);
        if (Options.Smrl)
            for (var s = 1; s < Options.TrainedLadder.Length; s++) TrainStep(set, cosines, data.Seed, Options.TrainedLadder[s - 1], [Options.TrainedLadder[s]]);
        else
            TrainStep(set, cosines, data.Seed, Options.InputDim, Options.TrainedLadder[1..]);
        ChooseSourcesOnValidation(set);
    }

    /// <summary>Add one SMRL step down to <paramref name="dim"/>, leaving every earlier step as it is.</summary>
    public void ExtendTo(TrainingData data, int dim)
    {
        if (!Options.Smrl) throw new InvalidOperationException("only a sequential (SMRL) chain can be extended");
        var smallest = Chain.Steps[^1].SelectionDims[^1];
        if (dim >= smallest) throw new ArgumentException($"the chain already reaches {smallest} dims; extend to fewer than that, not {dim}");
        Determinism.Seed(data.Seed + Chain.Steps.Count);
        using var set = new TrainingSet(data, Training.HardNegativePool);
        using var cosines = BuildCosines(set);
        TrainStep(set, cosines, data.Seed, smallest, [dim]);
        ChooseSourcesOnValidation(set);
    }

    /// <summary>
    /// The step budget of one loop: MaxSteps per SMRL step; the one MRL-style layer (SMRL off) gets
    /// MaxSteps for each step SMRL would have trained, so both have the same steps per produced dim and
    /// the ablation compares "sequential" with "summed", not budgets.
    /// </summary>
    public int StepBudget => Options.Smrl ? Training.MaxSteps : Training.MaxSteps * (Options.TrainedLadder.Length - 1);

    /// <summary>S-XBM's anchor-item cosines, shared by every step and grid point (null without S-XBM or over budget).</summary>
    private ItemCosines? BuildCosines(TrainingSet set)
    {
        if (!Options.Sxbm) return null;
        using var items = SmrlStepObjective.Items(set);
        return ItemCosines.TryBuild(items, SmrlStepObjective.AnchorItems(set, Options));
    }

    private void TrainStep(TrainingSet set, ItemCosines? cosines, long seed, int outputDim, int[] selectionDims)
    {
        var search = new StepSearch(this, set, outputDim, selectionDims);
        for (var i = 0; i < search.Grid.Length; i++)
        {
            using var objective = search.StartPoint(i, cosines);
            // Each step has its own seed stream, so adding a step later draws what a from-scratch run would.
            search.Record(i, TrainingLoop.Run(set, objective, search.Training(i), search.LoopSeed(seed), Options.Selection));
        }
        search.Finish();
    }

    /// <summary>
    /// One SMRL step's search over its grid (every loss candidate, with every ADS initialisation when ADS
    /// is on), each point from the same start: the step is added to the chain and initialised when this
    /// is built; each point is started (<see cref="StartPoint"/> or <see cref="Reset"/>), trained by the
    /// caller (alone, or as one member of an ensemble) and recorded; <see cref="Finish"/> keeps the best
    /// point (or each dim's best with per-dim selection), freezes the step and writes its record.
    /// </summary>
    private sealed class StepSearch
    {
        private readonly SmecCompressor _owner;
        private readonly TrainingSet _set;
        private readonly int _inputDim, _outputDim;
        private readonly int[] _selectionDims;
        private readonly Parameter[] _parameters;
        private readonly Tensor[] _start;
        private Tensor[]? _best;
        private TrainingResult? _bestResult;
        // Per-dim selection: each dim the step serves -> its best score over the grid, with the snapshot and grid point.
        private readonly SortedDictionary<int, (double Score, int Step, IReadOnlyList<Tensor> Weights, string Point)> _dimBest = new();
        private string _chosen = "";
        private readonly List<string> _tried = [], _histories = [];
        private int _gridSteps;
        private double _seconds;

        /// <summary>The step's index in the chain (0-based).</summary>
        public int Index { get; }
        public SmrlStep Step { get; }
        public (RankingLossForm Form, AdsLogitInit Init)[] Grid { get; }

        public StepSearch(SmecCompressor owner, TrainingSet set, int outputDim, int[] selectionDims)
        {
            _owner = owner;
            _set = set;
            var options = owner.Options;
            var chain = owner.Chain;
            Index = chain.Steps.Count;
            _inputDim = Index == 0 ? options.InputDim : chain.NextStepInputDim;
            _outputDim = outputDim;
            _selectionDims = selectionDims;
            long[]? skip = options.Residual && _inputDim != outputDim
                ? chain.Steps[^1].Selections[0].SelectedIndices()
                : null;
            Step = new SmrlStep(_inputDim, outputDim, selectionDims, options.Ads, options.Residual, skip, options.FunctionClass);
            chain.AddStep(Step);
            chain.eval();
            using (var scope = NewDisposeScope())
            using (no_grad())
                LayerInitialiser.Initialise(Step, options.Init, chain.StepInput(set.Corpus, Index));
            _parameters = Step.parameters().ToArray();
            _start = _parameters.Select(p => p.detach().clone()).ToArray(); // logits at zero: the uniform start
            Grid = (from form in options.LossCandidates
                    from init in options.Ads ? options.AdsInitCandidates : (IReadOnlyList<AdsLogitInit>)[AdsLogitInit.Zero]
                    select (form, init)).ToArray();
        }

        /// <summary>The loop seed of this step: each step has its own seed stream, so adding a step later draws what a from-scratch run would.</summary>
        public long LoopSeed(long seed) => seed * 1000 + Index;

        public string Point(int i) => _owner.Options.Ads ? $"{Grid[i].Form}, ADS init {Grid[i].Init}" : Grid[i].Form.ToString();

        /// <summary>The step back at its start for grid point <paramref name="i"/>.</summary>
        public void Reset(int i)
        {
            using (no_grad())
                for (var p = 0; p < _parameters.Length; p++) _parameters[p].copy_(_start[p]);
            if (_owner.Options.Ads && Grid[i].Init == AdsLogitInit.Variance)
                using (var scope = NewDisposeScope())
                using (no_grad())
                    InitialiseLogitsFromVariance(Step, _owner.Chain.StepInput(_set.Corpus, Index));
        }

        /// <summary>The step at its start for grid point <paramref name="i"/>, and the objective that trains it there.</summary>
        public SmrlStepObjective StartPoint(int i, ItemCosines? cosines)
        {
            Reset(i);
            return new SmrlStepObjective(_owner.Chain, Index, _owner.Options with { LossForm = Grid[i].Form }, _set, cosines);
        }

        /// <summary>The loop's options for grid point <paramref name="i"/>.</summary>
        public TrainingOptions Training(int i)
        {
            var (options, training, budget) = (_owner.Options, _owner.Training, _owner.StepBudget);
            var (form, init) = Grid[i];
            return training with
            {
                Label = $"{_owner.Name} step {Index + 1} {_inputDim}->{_outputDim}->{string.Join("->", _selectionDims)}" + (Grid.Length > 1 ? $" [{Point(i)}]" : ""),
                MaxSteps = budget,
                RandomDocs = options.SimilarityWeight > 0 ? options.SimilarityDocs : 0,
                MinSteps = options.Ads ? Math.Max(training.MinSteps, Math.Min(options.AdsAnnealSteps, budget)) : training.MinSteps,
                // One checkpoint per step and grid point: a restarted Fit skips finished ones and resumes the interrupted one.
                CheckpointPath = training.CheckpointPath is { } path
                    ? $"{path}.step{Index + 1}" + (Grid.Length > 1 ? $".{form}.{(options.Ads ? init.ToString() : "")}".TrimEnd('.') : "")
                    : null,
            };
        }

        /// <summary>Grid point <paramref name="i"/> trained: the step holds its best weights, <paramref name="result"/> is what the loop reported.</summary>
        public void Record(int i, TrainingResult result)
        {
            var point = Point(i);
            _owner.TrainingRuns.Add((Index + 1, point, result with { PerDim = result.PerDim?.Select(b => b with { Weights = [] }).ToArray() }));
            KeepPerDimBests(_dimBest, result, point);
            _gridSteps += result.StepsRun;
            _seconds += result.Seconds;
            _tried.Add(string.Create(CultureInfo.InvariantCulture, $"{point}: {result.BestValidationNdcg10:F4}"));
            _histories.Add($"[{point}] " + DescribeHistory(result.History));
            if (_bestResult is null || result.BestValidationNdcg10 > _bestResult.BestValidationNdcg10)
            {
                foreach (var b in _best ?? []) b.Dispose();
                _best = _parameters.Select(p => p.detach().clone()).ToArray();
                _bestResult = result;
                _chosen = point;
            }
        }

        /// <summary>Every grid point recorded: keep the best, freeze the step, write its record.</summary>
        public void Finish()
        {
            using (no_grad())
                for (var i = 0; i < _parameters.Length; i++) _parameters[i].copy_(_best![i]);
            foreach (var t in _start.Concat(_best!)) t.Dispose();
            var bestResult = _bestResult!;
            var (bestScore, bestStep) = (bestResult.BestValidationNdcg10, bestResult.BestStep);
            Dictionary<int, int>? selectionSteps = null;
            if (_dimBest.Count > 0)
            {
                selectionSteps = _selectionDims.ToDictionary(d => d, d => _dimBest[d].Step);
                (bestScore, bestStep) = (_dimBest[_outputDim].Score, _dimBest[_outputDim].Step);
                _chosen = "per dim: " + string.Join("; ", _dimBest.Reverse().Select(kv =>
                    string.Create(CultureInfo.InvariantCulture, $"{kv.Key}: {kv.Value.Point} ({kv.Value.Score:F4} at step {kv.Value.Step})")));
                _owner.ApplyPerDimBests(Index, Step, _dimBest);
            }
            foreach (var p in Step.parameters()) p.requires_grad = false; // frozen from now on
            _owner.Chain.eval();
            _owner.StepRecords.Add(new StepRecord(Index + 1, _inputDim, _outputDim, _selectionDims, bestScore,
                bestStep, bestResult.StepsRun, bestResult.StoppedEarly, _seconds, _chosen, string.Join("; ", _tried), _gridSteps,
                string.Join(" ", _histories), selectionSteps));
        }
    }

    /// <summary>A new step built as <paramref name="step"/> was (the one place a selection snapshot is made,
    /// in Fit and in Load), its weights to be copied in.</summary>
    private static SmrlStep ShapedLike(SmrlStep step, SmecOptions options) =>
        new(step.InputDim, step.OutputDim, step.SelectionDims, options.Ads, step.Residual,
            step.SkipIndices.numel() > 0 ? step.SkipIndices.data<long>().ToArray() : null, step.FunctionClass);

    /// <summary>Per-dim selection: keep, for each dim, the better of what it had and this grid point's best at it.</summary>
    private static void KeepPerDimBests(SortedDictionary<int, (double Score, int Step, IReadOnlyList<Tensor> Weights, string Point)> dimBest,
        TrainingResult result, string point)
    {
        foreach (var b in result.PerDim ?? [])
        {
            if (dimBest.TryGetValue(b.Dim, out var kept) && !(b.BestValidationNdcg10 > kept.Score))
            {
                foreach (var t in b.Weights) t.Dispose();
                continue;
            }
            foreach (var t in kept.Weights ?? []) t.Dispose();
            dimBest[b.Dim] = (b.BestValidationNdcg10, b.BestStep, b.Weights, point);
        }
    }

    /// <summary>Per-dim selection: the step keeps its output dim's best (what feeds the next step); each
    /// selection dim is served by a frozen copy of the step holding that dim's best.</summary>
    private void ApplyPerDimBests(int index, SmrlStep step, SortedDictionary<int, (double Score, int Step, IReadOnlyList<Tensor> Weights, string Point)> dimBest)
    {
        static Tensor[] Trainable(SmrlStep s) { var (layer, logits) = s.TrainableParameters(); return [.. layer, .. logits]; }
        using (no_grad())
        {
            TrainingLoop.CopyInto(Trainable(step), dimBest[step.OutputDim].Weights);
            foreach (var dim in step.SelectionDims)
            {
                var snapshot = ShapedLike(step, Options);
                TrainingLoop.CopyInto(snapshot.parameters().ToArray(), step.parameters().ToArray()); // untrained parts (disabled ADS) as the step's
                TrainingLoop.CopyInto(Trainable(snapshot), dimBest[dim].Weights);
                foreach (var p in snapshot.parameters()) p.requires_grad = false;
                Chain.AddSelectionSnapshot(index, dim, snapshot);
            }
        }
        foreach (var (_, _, weights, _) in dimBest.Values)
            foreach (var t in weights) t.Dispose();
    }

    /// <summary>"step:validation nDCG@10(mean training loss since the previous validation)" for each
    /// validation of one loop; step 0 is the start (the PCA initialisation), which has no loss.</summary>
    private static string DescribeHistory(IReadOnlyList<TrainingEvaluation> history) =>
        string.Join(" ", history.Select(h => double.IsNaN(h.MeanTrainLoss)
            ? string.Create(CultureInfo.InvariantCulture, $"{h.Step}:{h.ValidationNdcg10:F4}")
            : string.Create(CultureInfo.InvariantCulture, $"{h.Step}:{h.ValidationNdcg10:F4}({h.MeanTrainLoss:F4})")));

    /// <summary>Each duplicated dim served by the source with the better validation nDCG@10 (the
    /// earlier selection on ties, so a chain extended later keeps its dims); then the validation curve.</summary>
    private void ChooseSourcesOnValidation(TrainingSet set)
    {
        var scorer = new ValidationScorer(set);
        SourceScores.Clear();
        ValidationCurve.Clear();
        if (!scorer.HasQueries) return;
        var duplicated = Chain.DuplicatedDims;
        Chain.ChosenSources.Clear();
        if (duplicated.Count > 0)
        {
            var bySelection = scorer.ScoreByDim(new ChainView(Chain, DimSource.Selection, duplicated)).ToDictionary(x => x.Dim, x => x.Ndcg);
            var byOutput = scorer.ScoreByDim(new ChainView(Chain, DimSource.StepOutput, duplicated)).ToDictionary(x => x.Dim, x => x.Ndcg);
            foreach (var dim in duplicated)
            {
                SourceScores.Add((dim, bySelection[dim], byOutput[dim]));
                Chain.ChosenSources[dim] = Options.DimSource != DimSource.Validation ? Options.DimSource
                    : byOutput[dim] > bySelection[dim] ? DimSource.StepOutput : DimSource.Selection;
            }
        }
        foreach (var (dim, ndcg) in scorer.ScoreByDim(new ChainView(Chain, null, Chain.Dims))) ValidationCurve[dim] = ndcg;
    }

    /// <summary>"yes", or where a smaller served dim scores above a larger one on validation, and why
    /// that can happen: the two dims come from different steps trained on different losses, and
    /// early stopping keeps each step's best mean over its own outputs, not each dim's best.</summary>
    private string MonotoneNote()
    {
        var curve = ValidationCurve.Reverse().ToArray(); // descending dims
        var breaks = new List<string>();
        for (var i = 1; i < curve.Length; i++)
            if (curve[i].Value > curve[i - 1].Value)
                breaks.Add(string.Create(CultureInfo.InvariantCulture, $"{curve[i].Key} ({curve[i].Value:F4}) above {curve[i - 1].Key} ({curve[i - 1].Value:F4})"));
        return breaks.Count == 0
            ? "yes"
            : "no: " + string.Join("; ", breaks) + ". Each dim is served by the better of the outputs that produce it, but " +
              (Options.Selection == DimSelection.PerDim
                  ? "each dim is its own step's best at it, and a later step trains its smaller output on its own loss"
                  : "each step keeps its best mean over its own outputs (not each dim's best), and a later step trains its smaller output on its own loss") +
              ", so a smaller dim can score above a larger one made by an earlier step";
    }

    /// <summary>The selection protocol of the last Fit (see <see cref="ProtocolRecord"/>).</summary>
    public ProtocolRecord Protocol() => new(
        $"{Training.Optimizer}, lr {Training.LearningRate.ToString("R", CultureInfo.InvariantCulture)}, weight decay {Training.WeightDecay.ToString("R", CultureInfo.InvariantCulture)}, batch {Training.BatchSize}"
            + (Options.Ads ? $" (ADS logits: lr x{Options.AdsLearningRateScale.ToString("R", CultureInfo.InvariantCulture)}, no weight decay)" : ""),
        Training.LearningRate, Training.WeightDecay,
        MaxStepsPerDim: (double)StepBudget * (Options.Smrl ? Options.TrainedLadder.Length - 1 : 1) / (Options.TrainedLadder.Length - 1),
        StepsRun: StepRecords.Sum(r => r.GridStepsRun),
        LossForms: string.Join(", ", Options.LossCandidates),
        GridPoints: Options.LossCandidates.Count * (Options.Ads ? Options.AdsInitCandidates.Count : 1),
        SelectionCriterion: (Options.Selection == DimSelection.PerDim
                ? "validation nDCG@10 per served dim (each step's best snapshot and loss form at each dim it serves; its output dim's feeds the next step)"
                : "validation nDCG@10 per SMRL step (mean over the step's outputs)")
            + (Options.Ads && Options.AdsInitCandidates.Count > 1 ? ", over loss form x ADS initialisation" : ", over loss form")
            + (Options.DimSource == DimSource.Validation ? "; each duplicated dim's source on validation" : ""),
        FunctionClass: Options.FunctionClass,
        Parameters: Chain.Steps.Sum(s => s.MapParameterCount));

    /// <summary>The chain seen from one DimSource, for validation scoring only.</summary>
    private sealed class ChainView(SmecChain chain, DimSource? source, IReadOnlyList<int> dims) : ITrainingObjective
    {
        public IReadOnlyList<ParameterGroup> ParameterGroups => [];
        public Tensor Loss(TrainingBatch batch, TrainingStep step) => throw new InvalidOperationException("a view of a trained chain does not train");
        public IReadOnlyList<int> ValidationDims => dims;
        public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role)
        {
            chain.eval();
            return chain.Compress(embeddings, dim, source);
        }
        public string Fingerprint => "smec-chain-view";
    }

    /// <summary>Start each ADS at the log-variance of the dims it chooses from, so the strongest dims start selected.</summary>
    internal static void InitialiseLogitsFromVariance(SmrlStep step, Tensor corpusInput)
    {
        // Eval mode: each ADS then passes on its kept dims, the input of the next ADS. (A grid point
        // after the first finds the step in train mode, where an ADS keeps the full width.)
        step.eval();
        var current = step.forward(corpusInput);
        foreach (var ads in step.Selections)
        {
            var logVariance = current.var(0).ClampMin(1e-12).log();
            ads.InitialiseLogits(logVariance - logVariance.mean());
            current = ads.forward(current); // eval mode: the deterministic selection
        }
    }

    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role) => Compress(embeddings, dim, role, null);

    /// <summary>As <see cref="Compress(EmbeddingMatrix, int, EmbeddingRole)"/>, optionally from the other output of a dim the chain makes twice.</summary>
    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role, DimSource? source)
    {
        if (Chain.Steps.Count == 0) throw new InvalidOperationException("SMEC is not fitted (call Fit or Load first)");
        if (embeddings.Dim != Options.InputDim)
            throw new ArgumentException($"SMEC takes {Options.InputDim}-d embeddings, got {embeddings.Dim}-d");
        if (!Dims.Contains(dim)) throw new ArgumentException($"SMEC was trained for dims [{string.Join(", ", Dims)}], not {dim}");
        Determinism.ConfigureTorch();
        Chain.eval();
        var values = new float[(long)embeddings.Rows * dim];
        const int chunk = 4096;
        for (var start = 0; start < embeddings.Rows; start += chunk)
        {
            var rows = Math.Min(chunk, embeddings.Rows - start);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var input = tensor(embeddings.Values.AsSpan(start * embeddings.Dim, rows * embeddings.Dim).ToArray(), [rows, embeddings.Dim]);
            var output = nn.functional.normalize(Chain.Compress(input, dim, source), dim: 1).contiguous();
            output.data<float>().CopyTo(values.AsSpan(start * dim, rows * dim));
        }
        return new EmbeddingMatrix(embeddings.Ids, values, dim);
    }

    public void Save(string directory)
    {
        if (Chain.Steps.Count == 0) throw new InvalidOperationException("nothing to save: SMEC is not fitted");
        var config = new JsonObject
        {
            ["options"] = JsonSerializer.SerializeToNode(Options, JsonOptions),
            ["training"] = JsonSerializer.SerializeToNode(Training.Describe(), JsonOptions),
            ["steps"] = JsonSerializer.SerializeToNode(Chain.Steps.Select(s => new StoredStep(s.InputDim, s.OutputDim, s.SelectionDims.ToArray(), s.Residual,
                s.Selections.Select(a => a.SelectedIndices()).ToArray(), s.SkipIndices.data<long>().ToArray())).ToArray(), JsonOptions),
            ["results"] = JsonSerializer.SerializeToNode(StepRecords.ToArray(), JsonOptions),
            ["chosen_sources"] = JsonSerializer.SerializeToNode(new Dictionary<int, DimSource>(Chain.ChosenSources), JsonOptions),
            // Per-dim selection: [step (0-based), dim] of every selection dim served by its own snapshot.
            ["selection_snapshots"] = JsonSerializer.SerializeToNode(Chain.SelectionSnapshots.Select(k => new[] { k.Step, k.Dim }).ToArray(), JsonOptions),
        };
        SavedModel.Write(directory, Kind, this, config, SavedModelReader.StateOf(Chain, "chain."));
    }

    /// <summary>Load a model written by <see cref="Save"/>; errors name the file and what was wrong.</summary>
    public static SmecCompressor Load(string directory)
    {
        using var saved = SavedModel.Open(directory);
        return Load(saved);
    }

    public static SmecCompressor Load(SavedModelReader saved)
    {
        saved.Expect(Kind);
        Determinism.ConfigureTorch();
        T Part<T>(string key)
        {
            var node = saved.Config[key] ?? throw new InvalidDataException($"{saved.ManifestPath}: config field '{key}' is missing");
            try { return node.Deserialize<T>(JsonOptions) ?? throw new InvalidDataException($"{saved.ManifestPath}: config field '{key}' is empty"); }
            catch (JsonException e) { throw new InvalidDataException($"{saved.ManifestPath}: config field '{key}' is not a SMEC {key} record ({e.Message})", e); }
        }
        var options = Part<SmecOptions>("options");
        var steps = Part<StoredStep[]>("steps");
        var model = new SmecCompressor(options);
        foreach (var s in steps)
            model.Chain.AddStep(new SmrlStep(s.InputDim, s.OutputDim, s.SelectionDims, options.Ads, s.Residual,
                s.SkipIndices.Length > 0 ? s.SkipIndices : null, options.FunctionClass)); // a model saved before the option: Linear, its only form then
        // A model saved before per-dim selection has no snapshots: it loads as Shared.
        if (saved.Config["selection_snapshots"] is not null)
            foreach (var key in Part<int[][]>("selection_snapshots"))
            {
                if (key.Length != 2 || key[0] < 0 || key[0] >= model.Chain.Steps.Count)
                    throw new InvalidDataException($"{saved.ManifestPath}: config field 'selection_snapshots' holds [{string.Join(", ", key)}]; expected [step, dim] of a stored step");
                model.Chain.AddSelectionSnapshot(key[0], key[1], ShapedLike(model.Chain.Steps[key[0]], options));
            }
        saved.ReadInto(model.Chain, "chain.");
        foreach (var p in model.Chain.parameters()) p.requires_grad = false;
        model.Chain.eval();
        // The stored index lists are what users read; the logits must reproduce them.
        for (var i = 0; i < steps.Length; i++)
            for (var j = 0; j < steps[i].SelectedIndices.Length; j++)
                if (!model.Chain.Steps[i].Selections[j].SelectedIndices().SequenceEqual(steps[i].SelectedIndices[j]))
                    throw new InvalidDataException($"{saved.ManifestPath}: step {i + 1} selection {j + 1}: stored ADS indices disagree with the stored logits");
        model.StepRecords.AddRange(Part<StepRecord[]>("results"));
        model._savedSettings = new SortedDictionary<string, string>(saved.Settings.ToDictionary());
        if (saved.Config["chosen_sources"] is not null)
            foreach (var (dim, source) in Part<Dictionary<int, DimSource>>("chosen_sources")) model.Chain.ChosenSources[dim] = source;
        return model;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private sealed record StoredStep(int InputDim, int OutputDim, int[] SelectionDims, bool Residual, long[][] SelectedIndices, long[] SkipIndices);

    public void Dispose() => Chain.Dispose();
}
