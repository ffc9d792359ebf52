using Smec.Core.Retrieval;
using System.Globalization;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using Smec.Core.Losses;
using Smec.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Search-Adaptor (Yoon, Chen, Arik, Pfister, ACL 2024) as a compression baseline: for every target
/// dimension d a separate model, the residual adaptor e + f(e) followed by its own linear map to d,
/// trained with the ranking loss, the L1 recovery regulariser (alpha) and the query-prediction
/// regulariser (beta). (alpha, beta) is chosen per dimension on validation nDCG@10 from
/// <see cref="SearchAdaptorOptions.Grid"/>; what was searched and selected is recorded in Settings.
/// </summary>
public sealed partial class SearchAdaptor : ICompressor, IValidationScored
{
    public const string MethodName = "Search-Adaptor";
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "search-adaptor";

    private readonly SearchAdaptorOptions _options;
    private readonly Dictionary<string, string> _settings = new();
    private readonly Dictionary<int, SearchAdaptorModel> _models = new();
    private readonly Dictionary<int, double> _validation = new();
    /// <summary>Built by <see cref="Load"/> (its options are only what the saved model records): not fitted together.</summary>
    private bool _loaded;

    /// <summary>Validation nDCG@10 per dim after Fit: the kept model's best validation at its own dim.</summary>
    public IReadOnlyDictionary<int, double> ValidationNdcgByDim => _validation;

    public string Name => MethodName;
    public IReadOnlyList<int> Dims { get; }
    public IReadOnlyDictionary<string, string> Settings => _settings;

    public SearchAdaptor(IReadOnlyList<int> dims, SearchAdaptorOptions? options = null)
    {
        if (dims.Count == 0 || dims.Any(d => d <= 0)) throw new ArgumentException("dims must be positive and non-empty", nameof(dims));
        Dims = dims.Distinct().OrderByDescending(d => d).ToArray();
        _options = options ?? new SearchAdaptorOptions();
        if (_options.Grid.Count == 0) throw new ArgumentException("the (alpha, beta) grid is empty", nameof(options));
        if (_options.FunctionClass == FunctionClass.Linear && _options.HiddenDim is not null)
            throw new ArgumentException($"{MethodName}: option hidden_dim is {_options.HiddenDim}, but function_class=linear has no hidden layer; " +
                "expected hidden_dim=auto with function_class=linear, or function_class=residual-mlp", nameof(options));
    }

    public void Fit(TrainingData data)
    {
        var start = Begin(data);
        using var set = new TrainingSet(data, _options.HardNegativePool);
        var search = new GridRecord(this);
        for (var i = 0; i < search.Runs.Count; i++)
        {
            var run = search.Runs[i];
            var (model, predictor) = StartModel(run, data.Seed, start);
            using (predictor)
            {
                var options = _options with { RankingLoss = run.Form };
                var result = TrainingLoop.Run(set, new SearchAdaptorObjective(model, predictor, run.Weights, options), options.Loop(run.Dim, run.Weights), data.Seed);
                search.Record(i, model, result, result.Seconds);
            }
        }
        search.Finish();
    }

    /// <summary>What every model of a fit starts from: the input and hidden widths, and the corpus PCA (when the projection starts there).</summary>
    private sealed record FitStart(int InputDim, int HiddenDim, Pca Pca);

    /// <summary>One model of a fit: a target dim, a ranking-loss form and an (alpha, beta) point.</summary>
    private readonly record struct GridRun(int Dim, RankingLossForm Form, RegularizerWeights Weights);

    /// <summary>Fit's models in Fit's order: per dim (widest first), each loss form, each grid point.</summary>
    private IReadOnlyList<GridRun> Runs() =>
        [.. from dim in Dims from form in _options.RankingLossCandidates from weights in _options.Grid select new GridRun(dim, form, weights)];

    /// <summary>Fit's setup before any model trains: the old models freed, the options' settings written, the PCA fitted.</summary>
    private FitStart Begin(TrainingData data)
    {
        var inputDim = data.Corpus.Dim;
        if (Dims[0] > inputDim) throw new ArgumentException($"{Name}: dims up to {Dims[0]} asked of {inputDim}-d embeddings");
        Determinism.ConfigureTorch();
        DisposeModels();
        _loaded = false;
        _settings.Clear();
        foreach (var (key, value) in _options.Describe()) _settings[key] = value;
        var hiddenDim = _options.HiddenDim ?? inputDim;
        _settings["input dim"] = inputDim.ToString(CultureInfo.InvariantCulture);
        _settings["hidden dim"] = _options.FunctionClass == FunctionClass.Linear ? "none (linear)" : hiddenDim.ToString(CultureInfo.InvariantCulture);
        var pca = new Pca(Dims);
        if (_options.ProjectionInit == ProjectionInit.Pca) pca.FitOn(data.Corpus);
        _validation.Clear();
        return new FitStart(inputDim, hiddenDim, pca);
    }

    /// <summary>A run's model and query predictor at their start. Every grid point starts from the same seeded
    /// initialisation: only (alpha, beta) and the loss form differ.</summary>
    private (SearchAdaptorModel Model, Linear Predictor) StartModel(GridRun run, long seed, FitStart start)
    {
        Determinism.Seed(seed);
        var model = new SearchAdaptorModel(start.InputDim, start.HiddenDim, run.Dim, _options.FunctionClass);
        InitialiseProjection(model, start.Pca, start.InputDim, run.Dim);
        return (model, nn.Linear(run.Dim, start.InputDim));
    }

    /// <summary>
    /// What Fit records of its runs and which models it keeps: every run's best validation per dim ("grid @d"),
    /// per dim the best run (or, shared, one run for every dim), its step and score. Runs may finish in any
    /// order (an ensemble trains many at once); they are recorded in Fit's order, so the settings, ties and
    /// choices are Fit's whatever the order they trained in.
    /// </summary>
    private sealed class GridRecord(SearchAdaptor owner)
    {
        public IReadOnlyList<GridRun> Runs { get; } = owner.Runs();
        private readonly (SearchAdaptorModel Model, TrainingResult Result, double Seconds)?[] _finished = new (SearchAdaptorModel, TrainingResult, double)?[owner.Runs().Count];
        private int _next;
        private readonly bool _shared = owner._options.Selection == DimSelection.Shared;
        // Shared selection: every (dim, grid point) model is kept until every dim is trained, then one point is chosen.
        private readonly Dictionary<int, List<(SearchAdaptorModel Model, double Score, int Step, string Point)>> _perPoint = new();
        private readonly List<string> _searched = [];
        private SearchAdaptorModel? _best;
        private double _bestScore = double.NegativeInfinity;
        private int _bestStep;
        private double _seconds;
        private int _steps;

        /// <summary>Run <paramref name="index"/> trained: its model (now the record's), result and the seconds it is charged.</summary>
        public void Record(int index, SearchAdaptorModel model, TrainingResult result, double seconds)
        {
            if (_finished[index] is not null || index < _next) throw new InvalidOperationException($"{MethodName}: run {index} recorded twice");
            _finished[index] = (model, result, seconds);
            while (_next < Runs.Count && _finished[_next] is { } next)
            {
                _finished[_next] = null;
                Keep(Runs[_next], next.Model, next.Result, next.Seconds);
                _next++;
            }
        }

        private void Keep(GridRun run, SearchAdaptorModel model, TrainingResult result, double seconds)
        {
            var (options, settings, dim) = (owner._options, owner._settings, run.Dim);
            _seconds += seconds;
            _steps += result.StepsRun;
            var point = options.RankingLossCandidates.Count > 1 ? $"{run.Weights} {run.Form}" : run.Weights.ToString();
            _searched.Add(string.Create(CultureInfo.InvariantCulture, $"{point}: {result.BestValidationNdcg10:F4} (step {result.BestStep})"));
            if (_shared) (_perPoint.TryGetValue(dim, out var points) ? points : _perPoint[dim] = []).Add((model, result.BestValidationNdcg10, result.BestStep, point));
            else if (result.BestValidationNdcg10 > _bestScore)
            {
                _best?.Dispose();
                (_best, _bestScore, _bestStep) = (model, result.BestValidationNdcg10, result.BestStep);
                settings[$"selected @{dim}"] = string.Create(CultureInfo.InvariantCulture, $"{point} (validation nDCG@10 {_bestScore:F4})");
            }
            else model.Dispose();
            if (_next + 1 < Runs.Count && Runs[_next + 1].Dim == dim) return;
            // The dim's last run.
            settings[$"grid @{dim}"] = string.Join("; ", _searched);
            _searched.Clear();
            if (!_shared)
            {
                owner._models[dim] = _best!;
                owner._validation[dim] = _bestScore;
                settings[SelectedSteps.Key(dim)] = SelectedSteps.Format([_bestStep]);
                (_best, _bestScore, _bestStep) = (null, double.NegativeInfinity, 0);
            }
        }

        /// <summary>After every run is recorded: the shared choice, the seconds and the protocol record.</summary>
        public void Finish()
        {
            if (_next != Runs.Count) throw new InvalidOperationException($"{MethodName}: {Runs.Count - _next} of {Runs.Count} runs were not recorded");
            var (options, settings) = (owner._options, owner._settings);
            if (_shared) owner.KeepSharedPoint(_perPoint);
            settings["training seconds"] = _seconds.ToString("F1", CultureInfo.InvariantCulture);
            foreach (var (key, value) in new ProtocolRecord(options.OptimizerText, options.LearningRate, options.WeightDecay,
                MaxStepsPerDim: options.MaxSteps, StepsRun: _steps, LossForms: string.Join(", ", options.RankingLossCandidates),
                GridPoints: options.Grid.Count * options.RankingLossCandidates.Count,
                SelectionCriterion: _shared
                    ? "one (alpha, beta) grid point and loss form for every dim, on the mean over dims of each dim's validation nDCG@10"
                    : "validation nDCG@10 per dim, over the (alpha, beta) grid",
                FunctionClass: options.FunctionClass, Parameters: owner._models.Values.Sum(m => m.ParameterCount)).Describe())
                settings[key] = value;
        }

        /// <summary>Frees the models of runs trained but not yet recorded, and any kept so far (a failed fit).</summary>
        public void Abandon()
        {
            foreach (var finished in _finished) finished?.Model.Dispose();
            Array.Clear(_finished);
            _best?.Dispose();
            _best = null;
            foreach (var (model, _, _, _) in _perPoint.Values.SelectMany(p => p)) model.Dispose();
            _perPoint.Clear();
        }
    }

    /// <summary>Shared selection: the grid point with the best mean over dims of each dim's validation
    /// nDCG@10 (the first on ties) serves every dim; the other points' models are freed.</summary>
    private void KeepSharedPoint(Dictionary<int, List<(SearchAdaptorModel Model, double Score, int Step, string Point)>> perPoint)
    {
        var points = perPoint[Dims[0]].Count;
        var means = Enumerable.Range(0, points).Select(i => Dims.Average(d => perPoint[d][i].Score)).ToArray();
        var chosen = 0;
        for (var i = 1; i < points; i++) if (means[i] > means[chosen]) chosen = i;
        foreach (var dim in Dims)
        {
            for (var i = 0; i < points; i++)
                if (i != chosen) perPoint[dim][i].Model.Dispose();
            var (model, score, step, point) = perPoint[dim][chosen];
            _models[dim] = model;
            _validation[dim] = score;
            _settings[SelectedSteps.Key(dim)] = SelectedSteps.Format([step]);
            _settings[$"selected @{dim}"] = string.Create(CultureInfo.InvariantCulture,
                $"{point} (shared: mean validation nDCG@10 over dims {means[chosen]:F4}; at this dim {score:F4})");
        }
    }

    private void InitialiseProjection(SearchAdaptorModel model, Pca pca, int inputDim, int dim)
    {
        using var scope = NewDisposeScope();
        if (_options.ProjectionInit == ProjectionInit.Pca)
        {
            var (mean, components) = pca.State;
            model.InitialiseProjection(components, mean);
        }
        else model.InitialiseProjection(eye(inputDim, dim, dtype: ScalarType.Float64), zeros(1, inputDim, dtype: ScalarType.Float64));
    }

    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role)
    {
        BaselineTensors.CheckDim(Name, Dims, dim);
        if (!_models.TryGetValue(dim, out var model)) throw new InvalidOperationException($"{Name}: Fit (or Load) before Compress");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        model.eval();
        var input = EmbeddingTensors.ToTensor(embeddings);
        if (input.shape[1] != model.InputDim) throw new ArgumentException($"{Name} was fitted on {model.InputDim}-d embeddings, got {input.shape[1]}-d input");
        return BaselineTensors.ToNormalisedMatrix(embeddings.Ids, model.forward(input));
    }

    private static string Prefix(int dim) => $"adaptor@{dim}.";

    public void Save(string directory)
    {
        if (_models.Count == 0) throw new InvalidOperationException($"{Name}: nothing to save before Fit");
        var first = _models[Dims[0]];
        var config = new System.Text.Json.Nodes.JsonObject
        {
            ["input_dim"] = first.InputDim, ["hidden_dim"] = first.HiddenDim, ["function_class"] = first.FunctionClass.ToString(),
        };
        SavedModel.Write(directory, Kind, this, config, Dims.SelectMany(d => SavedModelReader.StateOf(_models[d], Prefix(d))));
    }

    public static SearchAdaptor Load(string directory)
    {
        using var saved = SavedModel.Open(directory);
        return Load(saved);
    }

    public static SearchAdaptor Load(SavedModelReader saved)
    {
        saved.Expect(Kind);
        Determinism.ConfigureTorch();
        var inputDim = saved.Get<int>("input_dim");
        var hiddenDim = saved.Get<int>("hidden_dim");
        // A model saved before the option had the residual MLP, its only form then.
        var functionClass = saved.GetOr("function_class", FunctionClass.ResidualMlp);
        var method = new SearchAdaptor(saved.Dims, new SearchAdaptorOptions
        {
            FunctionClass = functionClass, HiddenDim = functionClass == FunctionClass.Linear ? null : hiddenDim,
        });
        method._loaded = true;
        foreach (var (key, value) in saved.Settings) method._settings[key] = value;
        foreach (var dim in method.Dims)
        {
            var model = new SearchAdaptorModel(inputDim, hiddenDim, dim, functionClass);
            saved.ReadInto(model, Prefix(dim));
            method._models[dim] = model;
        }
        return method;
    }

    public void Dispose() => DisposeModels();

    private void DisposeModels()
    {
        foreach (var model in _models.Values) model.Dispose();
        _models.Clear();
    }
}
