using Smec.Core.Retrieval;
using System.Globalization;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Search-Adaptor (Yoon, Chen, Arik, Pfister, ACL 2024) as a compression baseline: for every target
/// dimension d a separate model, the residual adaptor e + f(e) followed by its own linear map to d,
/// trained with the ranking loss, the L1 recovery regulariser (alpha) and the query-prediction
/// regulariser (beta). (alpha, beta) is chosen per dimension on validation nDCG@10 from
/// <see cref="SearchAdaptorOptions.Grid"/>; what was searched and selected is recorded in Settings.
/// </summary>
public sealed class SearchAdaptor : ICompressor, IValidationScored
{
    public const string MethodName = "Search-Adaptor";
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "search-adaptor";

    private readonly SearchAdaptorOptions _options;
    private readonly Dictionary<string, string> _settings = new();
    private readonly Dictionary<int, SearchAdaptorModel> _models = new();
    private readonly Dictionary<int, double> _validation = new();

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
        var inputDim = data.Corpus.Dim;
        if (Dims[0] > inputDim) throw new ArgumentException($"{Name}: dims up to {Dims[0]} asked of {inputDim}-d embeddings");
        Determinism.ConfigureTorch();
        DisposeModels();
        _settings.Clear();
        foreach (var (key, value) in _options.Describe()) _settings[key] = value;
        var hiddenDim = _options.HiddenDim ?? inputDim;
        _settings["input dim"] = inputDim.ToString(CultureInfo.InvariantCulture);
        _settings["hidden dim"] = _options.FunctionClass == FunctionClass.Linear ? "none (linear)" : hiddenDim.ToString(CultureInfo.InvariantCulture);

        var pca = new Pca(Dims);
        if (_options.ProjectionInit == ProjectionInit.Pca) pca.FitOn(data.Corpus);
        using var set = new TrainingSet(data, _options.HardNegativePool);
        var totalSeconds = 0.0;
        var totalSteps = 0;
        _validation.Clear();
        // Shared selection: every (dim, grid point) model is kept until every dim is trained, then one point is chosen.
        var shared = _options.Selection == DimSelection.Shared;
        var perPoint = new Dictionary<int, List<(SearchAdaptorModel Model, double Score, int Step, string Point)>>();
        foreach (var dim in Dims)
        {
            SearchAdaptorModel? best = null;
            var bestScore = double.NegativeInfinity;
            var bestStep = 0;
            var searched = new List<string>();
            perPoint[dim] = [];
            foreach (var form in _options.RankingLossCandidates)
            foreach (var weights in _options.Grid)
            {
                // Every grid point starts from the same seeded initialisation: only (alpha, beta) and the loss form differ.
                Determinism.Seed(data.Seed);
                var model = new SearchAdaptorModel(inputDim, hiddenDim, dim, _options.FunctionClass);
                InitialiseProjection(model, pca, inputDim, dim);
                using var predictor = nn.Linear(dim, inputDim);
                var options = _options with { RankingLoss = form };
                var result = TrainingLoop.Run(set, new SearchAdaptorObjective(model, predictor, weights, options), options.Loop(dim, weights), data.Seed);
                totalSeconds += result.Seconds;
                totalSteps += result.StepsRun;
                var point = _options.RankingLossCandidates.Count > 1 ? $"{weights} {form}" : weights.ToString();
                searched.Add(string.Create(CultureInfo.InvariantCulture, $"{point}: {result.BestValidationNdcg10:F4} (step {result.BestStep})"));
                if (shared) perPoint[dim].Add((model, result.BestValidationNdcg10, result.BestStep, point));
                else if (result.BestValidationNdcg10 > bestScore)
                {
                    best?.Dispose();
                    (best, bestScore, bestStep) = (model, result.BestValidationNdcg10, result.BestStep);
                    _settings[$"selected @{dim}"] = string.Create(CultureInfo.InvariantCulture, $"{point} (validation nDCG@10 {bestScore:F4})");
                }
                else model.Dispose();
            }
            _settings[$"grid @{dim}"] = string.Join("; ", searched);
            if (!shared)
            {
                _models[dim] = best!;
                _validation[dim] = bestScore;
                _settings[SelectedSteps.Key(dim)] = SelectedSteps.Format([bestStep]);
            }
        }
        if (shared) KeepSharedPoint(perPoint);
        _settings["training seconds"] = totalSeconds.ToString("F1", CultureInfo.InvariantCulture);
        foreach (var (key, value) in new ProtocolRecord(_options.OptimizerText, _options.LearningRate, _options.WeightDecay,
            MaxStepsPerDim: _options.MaxSteps, StepsRun: totalSteps, LossForms: string.Join(", ", _options.RankingLossCandidates),
            GridPoints: _options.Grid.Count * _options.RankingLossCandidates.Count,
            SelectionCriterion: shared
                ? "one (alpha, beta) grid point and loss form for every dim, on the mean over dims of each dim's validation nDCG@10"
                : "validation nDCG@10 per dim, over the (alpha, beta) grid",
            FunctionClass: _options.FunctionClass, Parameters: _models.Values.Sum(m => m.ParameterCount)).Describe())
            _settings[key] = value;
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
