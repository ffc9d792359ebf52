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
public sealed partial class MatryoshkaAdaptor : ICompressor, IValidationScored
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
    /// <summary>Built by <see cref="Load"/> (its options only as far as inference needs), not by the method registry.</summary>
    private bool _loaded;

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
        var trainedDims = Begin(data);
        // Stage 1 sees the corpus matrix only: no query, judgement or validation label can reach it.
        RecordUnsupervised(CorpusOnlyStage.Run(_adaptor!, data.Corpus, Dims, _options, _options.StageSteps(trainedDims), data.Seed));
        using var set = NeedsTrainingSet(data) ? new TrainingSet(data, _options.HardNegativePool) : null;
        SupervisedOutcome? supervised = null;
        if (_options.Supervised)
        {
            using var neighbours = new AnchorNeighbours(set!, _options.TopK, _adaptor!);
            var search = new SupervisedSearch(this);
            foreach (var form in search.Forms)
            {
                search.Reset();
                search.Record(form, RunStage(set!, neighbours, data.Seed, search.OptionsFor(form), search.Stage(form)));
            }
            supervised = search.Finish();
        }
        Finish(set, supervised, trainedDims);
    }

    /// <summary>Fit's start, before any training: seeded with the data's seed, the last fit's state dropped, the
    /// starting adaptor (<see cref="StartingAdaptor"/>) and the settings the options give. The number of trained dims.</summary>
    private int Begin(TrainingData data)
    {
        var inputDim = data.Corpus.Dim;
        if (Dims[0] > inputDim) throw new ArgumentException($"{Name}: dims up to {Dims[0]} asked of {inputDim}-d embeddings");
        Determinism.Seed(data.Seed);
        _adaptor?.Dispose();
        DisposePerDim();
        _validation.Clear();
        _loaded = false;
        _adaptor = StartingAdaptor(_options, data.Corpus);
        _settings.Clear();
        _runs.Clear();
        foreach (var (key, value) in _options.Describe()) _settings[key] = value;
        _settings["input dim"] = inputDim.ToString(CultureInfo.InvariantCulture);
        _settings["hidden dim"] = _adaptor.FunctionClass == FunctionClass.Linear ? "none (linear)" : _adaptor.HiddenDim.ToString(CultureInfo.InvariantCulture);
        return ProtocolRecord.TrainedDims(Dims, inputDim);
    }

    /// <summary>Stage 1 done (its result in, the adaptor holding its kept weights): recorded.</summary>
    private void RecordUnsupervised(CorpusOnlyResult unsupervised)
    {
        UnsupervisedRun = unsupervised;
        // Not "... stage": that key form is a labelled early stop (KeptStart reads it); this stage has none.
        _settings["unsupervised stage (corpus only)"] = unsupervised.HeldOutDocs > 0
            ? string.Create(CultureInfo.InvariantCulture,
                $"corpus only: best held-out unsupervised loss {unsupervised.BestHeldOutLoss:F5} at step {unsupervised.BestStep} of {unsupervised.StepsRun}{(unsupervised.StoppedEarly ? ", early stop" : "")} ({unsupervised.HeldOutDocs} held-out docs)")
            : $"corpus only: {unsupervised.StepsRun} steps (fixed)";
    }

    /// <summary>Whether Fit builds a training set: the supervised stage trains on it; MA-unsup only scores its kept
    /// weights on its validation queries, when the data has train and validation judgements.</summary>
    private bool NeedsTrainingSet(TrainingData data) => _options.Supervised || HasTrainPairs(data);

    /// <summary>Both stages done: the validation nDCG@10 per dim of the kept weights and the protocol record.</summary>
    private void Finish(TrainingSet? set, SupervisedOutcome? supervised, int trainedDims)
    {
        var unsupervised = UnsupervisedRun!;
        var seconds = unsupervised.Seconds + (supervised?.Seconds ?? 0);
        var stepsRun = unsupervised.StepsRun + (supervised?.Steps ?? 0);
        var lossForms = supervised is null ? "none (unsupervised losses only)" : string.Join(", ", supervised.Tried);
        var grid = supervised?.Tried.Count ?? 1;
        var criterion = supervised is not null
            ? _perDim.Count > 0
                ? "stage 1: held-out unsupervised loss; stage 2: validation nDCG@10 per dim (each dim its best snapshot and loss form)"
                : "stage 1: held-out unsupervised loss; stage 2: validation nDCG@10 (mean over dims)"
            : unsupervised.HeldOutDocs > 0 ? "unsupervised loss on held-out corpus docs (no labels)" : "none: fixed step count (no labels)";
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
            FunctionClass: _adaptor!.FunctionClass, Parameters: _adaptor.ParameterCount).Describe())
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

    /// <summary>One supervised stage alone (one ranking-loss form): the loop's result, the adaptor holding its kept weights.</summary>
    private TrainingResult RunStage(TrainingSet set, AnchorNeighbours neighbours, long seed, MatryoshkaAdaptorOptions options, string stage)
    {
        var objective = new MatryoshkaAdaptorObjective(_adaptor!, neighbours, Dims, options, supervisedStage: true);
        return TrainingLoop.Run(set, objective, options.Loop(stage, ProtocolRecord.TrainedDims(Dims, _adaptor!.Dim)), seed, options.Selection);
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
        method._loaded = true;
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
