using Smec.Core.Losses;
using Smec.Core.Retrieval;
using System.Globalization;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Matryoshka-Adaptor (Yoon, Sinha, Arik, Pfister, EMNLP 2024): one residual adaptor e' = e + f(e)
/// whose m-prefixes serve every target dimension m. Stage 1 (unsupervised, corpus only):
/// L_topk + alpha L_pair + beta L_rec over every prefix, stopped without labels (see
/// <see cref="CorpusOnlyStage"/>). Stage 2 (supervised, same adaptor): the same plus gamma L_rank, on
/// the shared training loop with early stopping on validation nDCG@10 (mean over the target dims).
/// "MA-unsup" stops after stage 1, so it is the paper's unsupervised variant: identical results
/// whatever labels the training data holds.
/// </summary>
public sealed class MatryoshkaAdaptor : ICompressor, IValidationScored
{
    public const string SupervisedName = "Matryoshka-Adaptor";
    public const string UnsupervisedName = "MA-unsup";
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "matryoshka-adaptor";

    private readonly MatryoshkaAdaptorOptions _options;
    private readonly Dictionary<string, string> _settings = new();
    private ResidualAdaptor? _adaptor;
    /// <summary>Per-dim selection: the adaptor snapshot that serves each dim (empty: <see cref="_adaptor"/> serves every dim).</summary>
    private readonly SortedDictionary<int, ResidualAdaptor> _perDim = new();
    private readonly Dictionary<int, double> _validation = new();

    /// <summary>Validation nDCG@10 per served dim after Fit, from the weights that serve it (empty without validation queries).</summary>
    public IReadOnlyDictionary<int, double> ValidationNdcgByDim => _validation;

    /// <summary>Whether each dim is served by its own snapshot (per-dim selection) or the one adaptor.</summary>
    public DimSelection ServedSelection => _perDim.Count > 0 ? DimSelection.PerDim : DimSelection.Shared;

    public string Name => _options.Name;
    public IReadOnlyList<int> Dims { get; }
    public IReadOnlyDictionary<string, string> Settings => _settings;
    public MatryoshkaAdaptorOptions Options => _options;
    /// <summary>The loop's record of each stage of the last Fit (validation curve, steps, time).</summary>
    public IReadOnlyList<(string Stage, TrainingResult Result)> TrainingRuns => _runs;
    private readonly List<(string Stage, TrainingResult Result)> _runs = new();

    public MatryoshkaAdaptor(IReadOnlyList<int> dims, MatryoshkaAdaptorOptions? options = null)
    {
        if (dims.Count == 0 || dims.Any(d => d <= 0)) throw new ArgumentException("dims must be positive and non-empty", nameof(dims));
        Dims = dims.Distinct().OrderByDescending(d => d).ToArray();
        _options = options ?? new MatryoshkaAdaptorOptions();
        if (_options.FunctionClass == FunctionClass.Linear && _options.HiddenDim is not null)
            throw new ArgumentException($"{_options.Name}: option hidden_dim is {_options.HiddenDim}, but function_class=linear has no hidden layer; " +
                "expected hidden_dim=auto with function_class=linear, or function_class=residual-mlp", nameof(options));
    }

    public void Fit(TrainingData data)
    {
        var inputDim = data.Corpus.Dim;
        if (Dims[0] > inputDim) throw new ArgumentException($"{Name}: dims up to {Dims[0]} asked of {inputDim}-d embeddings");
        Determinism.Seed(data.Seed);
        _adaptor?.Dispose();
        DisposePerDim();
        _validation.Clear();
        _adaptor = StartingAdaptor(_options, data.Corpus);
        _settings.Clear();
        _runs.Clear();
        foreach (var (key, value) in _options.Describe()) _settings[key] = value;
        _settings["input dim"] = inputDim.ToString(CultureInfo.InvariantCulture);
        _settings["hidden dim"] = _adaptor.FunctionClass == FunctionClass.Linear ? "none (linear)" : _adaptor.HiddenDim.ToString(CultureInfo.InvariantCulture);
        // Stage 1 sees the corpus matrix only: no query, judgement or validation label can reach it.
        var trainedDims = ProtocolRecord.TrainedDims(Dims, inputDim);
        var unsupervised = CorpusOnlyStage.Run(_adaptor, data.Corpus, Dims, _options, _options.StageSteps(trainedDims), data.Seed);
        UnsupervisedRun = unsupervised;
        // Not "... stage": that key form is a labelled early stop (KeptStart reads it); this stage has none.
        _settings["unsupervised stage (corpus only)"] = unsupervised.HeldOutDocs > 0
            ? string.Create(CultureInfo.InvariantCulture,
                $"corpus only: best held-out unsupervised loss {unsupervised.BestHeldOutLoss:F5} at step {unsupervised.BestStep} of {unsupervised.StepsRun}{(unsupervised.StoppedEarly ? ", early stop" : "")} ({unsupervised.HeldOutDocs} held-out docs)")
            : $"corpus only: {unsupervised.StepsRun} steps (fixed)";
        var seconds = unsupervised.Seconds;
        var stepsRun = unsupervised.StepsRun;
        var lossForms = "none (unsupervised losses only)";
        var grid = 1;
        var criterion = unsupervised.HeldOutDocs > 0 ? "unsupervised loss on held-out corpus docs (no labels)" : "none: fixed step count (no labels)";
        using var set = _options.Supervised || HasTrainPairs(data) ? new TrainingSet(data, _options.HardNegativePool) : null;
        if (_options.Supervised)
        {
            using var neighbours = new AnchorNeighbours(set!, _options.TopK, _adaptor);
            var (supervisedSeconds, supervisedSteps, tried) = FitSupervised(set!, neighbours, data.Seed);
            seconds += supervisedSeconds;
            stepsRun += supervisedSteps;
            lossForms = string.Join(", ", tried);
            grid = tried.Count;
            criterion = _perDim.Count > 0
                ? "stage 1: held-out unsupervised loss; stage 2: validation nDCG@10 per dim (each dim its best snapshot and loss form)"
                : "stage 1: held-out unsupervised loss; stage 2: validation nDCG@10 (mean over dims)";
        }
        // After training: what the kept weights score at each dim (read by selection across settings).
        // (MA-unsup on data without train judgements has no validation split to score on.)
        if (set is not null)
            foreach (var (dim, ndcg) in new ValidationView(Dims, (x, dim) => AdaptorFor(dim).forward(x).narrow(1, 0, dim)).Score(set))
                _validation[dim] = ndcg;
        _settings["training seconds"] = seconds.ToString("F1", CultureInfo.InvariantCulture);
        foreach (var (key, value) in new ProtocolRecord(
            _options.OptimizerText, _options.LearningRate, _options.WeightDecay,
            MaxStepsPerDim: (double)_options.StageSteps(trainedDims) * (_options.Supervised ? 2 : 1) / trainedDims,
            StepsRun: stepsRun, LossForms: lossForms, GridPoints: grid, SelectionCriterion: criterion,
            FunctionClass: _adaptor.FunctionClass, Parameters: _adaptor.ParameterCount).Describe())
            _settings[key] = value;
    }

    /// <summary>
    /// The adaptor Fit starts from: fresh weights drawn from torch's global generator (Fit seeds it with the data's
    /// seed first) and the input map <paramref name="options"/> asks for, from <paramref name="corpus"/>. An ensemble
    /// (<see cref="MatryoshkaAdaptorCorpusEnsemble"/>) starts each member from it, seeded the same way.
    /// </summary>
    public static ResidualAdaptor StartingAdaptor(MatryoshkaAdaptorOptions options, EmbeddingMatrix corpus)
    {
        var inputDim = corpus.Dim;
        var adaptor = new ResidualAdaptor(inputDim, options.HiddenDim ?? inputDim, options.FunctionClass);
        if (options.ResolvedInput == AdaptorInput.Centred)
        {
            using var values = EmbeddingTensors.ToTensor(corpus);
            using var mean = values.mean([0L], keepdim: true);
            adaptor.SetInputMap(mean);
        }
        else if (options.ResolvedInput == AdaptorInput.PcaBasis)
        {
            var pca = new Pca([inputDim]);
            pca.FitOn(corpus);
            var (mean, basis) = pca.State;
            using (var scope = NewDisposeScope())
                adaptor.SetInputMap(mean.to_type(ScalarType.Float32), basis.to_type(ScalarType.Float32));
        }
        return adaptor;
    }

    /// <summary>What the corpus-only stage of the last Fit did.</summary>
    public CorpusOnlyResult? UnsupervisedRun { get; private set; }

    /// <summary>The supervised stage once per ranking-loss candidate, each from the unsupervised
    /// state; keeps the weights with the best validation nDCG@10.</summary>
    private (double Seconds, int Steps, IReadOnlyList<RankingLossForm> Tried) FitSupervised(TrainingSet set, AnchorNeighbours neighbours, long seed)
    {
        var steps = 0;
        var parameters = _adaptor!.parameters().ToArray();
        var start = parameters.Select(p => p.detach().clone()).ToArray();
        Tensor[]? best = null;
        var bestScore = double.NegativeInfinity;
        var bestStep = 0;
        RankingLossForm? bestForm = null;
        // Per-dim selection: each dim -> its best score over the loss forms, with the snapshot and form.
        var dimBest = new SortedDictionary<int, (double Score, int Step, IReadOnlyList<Tensor> Weights, RankingLossForm Form)>();
        double seconds = 0;
        var candidates = _options.RankingLossCandidates.Count > 0 ? _options.RankingLossCandidates : [_options.RankingLoss];
        foreach (var form in candidates)
        {
            using (no_grad())
                for (var i = 0; i < parameters.Length; i++) parameters[i].copy_(start[i]);
            var stage = candidates.Count > 1 ? $"supervised, {form}" : "supervised";
            var (stageSeconds, score, scoreStep, stageSteps, perDim) = RunStage(set, neighbours, seed, _options with { RankingLoss = form }, stage);
            foreach (var b in perDim ?? [])
            {
                if (dimBest.TryGetValue(b.Dim, out var kept) && !(b.BestValidationNdcg10 > kept.Score))
                {
                    foreach (var t in b.Weights) t.Dispose();
                    continue;
                }
                foreach (var t in kept.Weights ?? []) t.Dispose();
                dimBest[b.Dim] = (b.BestValidationNdcg10, b.BestStep, b.Weights, form);
            }
            seconds += stageSeconds;
            steps += stageSteps;
            if (score > bestScore)
            {
                bestScore = score;
                bestStep = scoreStep;
                bestForm = form;
                foreach (var b in best ?? []) b.Dispose();
                best = parameters.Select(p => p.detach().clone()).ToArray();
            }
        }
        using (no_grad())
            for (var i = 0; i < parameters.Length; i++) parameters[i].copy_(best![i]);
        foreach (var t in start.Concat(best!)) t.Dispose();
        _settings["ranking loss (chosen on validation)"] = bestForm!.ToString()!;
        // The supervised stage is the one part selected on validation; the corpus-only stage before it
        // never keeps its start (its start is no candidate), so it is not listed: a dim whose supervised
        // step is 0 shows the unsupervised adaptor's number, which training on labels did not improve.
        // (Per dim: a dim without its own snapshot is served by the one adaptor, which holds the largest dim's.)
        foreach (var dim in Dims)
            _settings[SelectedSteps.Key(dim)] = SelectedSteps.Format([dimBest.Count == 0 ? bestStep
                : dimBest.TryGetValue(dim, out var atDim) ? atDim.Step : dimBest[Dims[0]].Step]);
        if (dimBest.Count > 0)
        {
            // Every dim served by its own snapshot; the one adaptor keeps the largest dim's (what Dims[0] serves).
            foreach (var (dim, (score, step, weights, form)) in dimBest)
            {
                var snapshot = CopyOf(_adaptor);
                TrainingLoop.CopyInto(snapshot.parameters().ToArray(), weights);
                _perDim[dim] = snapshot;
                _settings[$"selected @{dim}"] = string.Create(CultureInfo.InvariantCulture, $"{form} at step {step} (validation nDCG@10 {score:F4})");
            }
            TrainingLoop.CopyInto(parameters, dimBest[Dims[0]].Weights);
            foreach (var (_, _, weights, _) in dimBest.Values)
                foreach (var t in weights) t.Dispose();
        }
        return (seconds, steps, candidates);
    }

    private static bool HasTrainPairs(TrainingData data) => data.Train.QueryCount > 0 && data.Validation.QueryCount > 0;

    /// <summary>A new adaptor with <paramref name="source"/>'s parameters and input map (buffers).</summary>
    private static ResidualAdaptor CopyOf(ResidualAdaptor source)
    {
        var copy = new ResidualAdaptor(source.Dim, source.HiddenDim, source.FunctionClass);
        using var _ = no_grad();
        var from = source.state_dict();
        foreach (var (name, tensor) in copy.state_dict()) tensor.copy_(from[name]);
        return copy;
    }

    /// <summary>The adaptor that serves <paramref name="dim"/>.</summary>
    private ResidualAdaptor AdaptorFor(int dim) => _perDim.TryGetValue(dim, out var snapshot) ? snapshot
        : _adaptor ?? throw new InvalidOperationException($"{Name}: Fit (or Load) before Compress");

    private (double Seconds, double Score, int BestStep, int Steps, IReadOnlyList<DimBest>? PerDim) RunStage(TrainingSet set, AnchorNeighbours neighbours, long seed,
        MatryoshkaAdaptorOptions options, string stage)
    {
        var objective = new MatryoshkaAdaptorObjective(_adaptor!, neighbours, Dims, options, supervisedStage: true);
        var result = TrainingLoop.Run(set, objective, options.Loop(stage, ProtocolRecord.TrainedDims(Dims, _adaptor!.Dim)), seed, options.Selection);
        _runs.Add((stage, result));
        _settings[$"{stage} stage"] = result.PerDim is null
            ? string.Create(CultureInfo.InvariantCulture, $"best validation nDCG@10 (mean over dims) {result.BestValidationNdcg10:F4} at step {result.BestStep} of {result.StepsRun}{(result.StoppedEarly ? ", early stop" : "")}")
            : string.Create(CultureInfo.InvariantCulture, $"best validation nDCG@10 per dim (mean of the dims' bests) {result.BestValidationNdcg10:F4}, the largest dim's at step {result.BestStep} of {result.StepsRun}{(result.StoppedEarly ? ", early stop" : "")}");
        return (result.Seconds, result.BestValidationNdcg10, result.BestStep, result.StepsRun, result.PerDim);
    }

    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role)
    {
        BaselineTensors.CheckDim(Name, Dims, dim);
        var adaptor = AdaptorFor(dim);
        BaselineTensors.CheckInputDim(Name, adaptor.Dim, embeddings);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        adaptor.eval();
        var adapted = adaptor.forward(EmbeddingTensors.ToTensor(embeddings)).narrow(1, 0, dim);
        return BaselineTensors.ToNormalisedMatrix(embeddings.Ids, adapted);
    }

    public void Save(string directory)
    {
        var adaptor = _adaptor ?? throw new InvalidOperationException($"{Name}: nothing to save before Fit");
        var config = new System.Text.Json.Nodes.JsonObject
        {
            ["input_dim"] = adaptor.Dim, ["hidden_dim"] = adaptor.HiddenDim, ["supervised"] = _options.Supervised,
            ["function_class"] = adaptor.FunctionClass.ToString(),
            ["selection"] = ServedSelection.ToString(),
        };
        SavedModel.Write(directory, Kind, this, config, SavedModelReader.StateOf(adaptor, "adaptor.")
            .Concat(_perDim.SelectMany(kv => SavedModelReader.StateOf(kv.Value, PerDimPrefix(kv.Key)))));
    }

    /// <summary>Rebuild from a saved folder; the options are as saved only as far as inference needs (dims, widths).</summary>
    public static MatryoshkaAdaptor Load(string directory)
    {
        using var saved = SavedModel.Open(directory);
        return Load(saved);
    }

    public static MatryoshkaAdaptor Load(SavedModelReader saved)
    {
        saved.Expect(Kind);
        Determinism.ConfigureTorch();
        var inputDim = saved.Get<int>("input_dim");
        var hiddenDim = saved.Get<int>("hidden_dim");
        // A model saved before the option had the residual MLP, its only form then.
        var functionClass = saved.GetOr("function_class", FunctionClass.ResidualMlp);
        var method = new MatryoshkaAdaptor(saved.Dims, new MatryoshkaAdaptorOptions
        {
            Supervised = saved.Get<bool>("supervised"), FunctionClass = functionClass,
            HiddenDim = functionClass == FunctionClass.Linear ? null : hiddenDim,
        });
        foreach (var (key, value) in saved.Settings) method._settings[key] = value;
        method._adaptor = new ResidualAdaptor(inputDim, hiddenDim, functionClass);
        saved.ReadInto(method._adaptor, "adaptor.");
        // A model saved before per-dim selection has no "selection": it loads as Shared.
        var selection = saved.Config["selection"]?.GetValue<string>() ?? nameof(DimSelection.Shared);
        if (!Enum.TryParse<DimSelection>(selection, out var parsed))
            throw new InvalidDataException($"{saved.ManifestPath}: config field 'selection' is '{selection}'; expected PerDim or Shared");
        if (parsed == DimSelection.PerDim)
            foreach (var dim in method.Dims)
            {
                var snapshot = new ResidualAdaptor(inputDim, hiddenDim, functionClass);
                saved.ReadInto(snapshot, PerDimPrefix(dim));
                method._perDim[dim] = snapshot;
            }
        return method;
    }

    private static string PerDimPrefix(int dim) => $"adaptor@{dim}.";

    private void DisposePerDim()
    {
        foreach (var snapshot in _perDim.Values) snapshot.Dispose();
        _perDim.Clear();
    }

    public void Dispose()
    {
        _adaptor?.Dispose();
        _adaptor = null;
        DisposePerDim();
    }
}
