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
/// L_topk + alpha L_pair + beta L_rec over every prefix. Stage 2 (supervised, same adaptor):
/// the same plus gamma L_rank. "MA-unsup" stops after stage 1. Each stage runs on the shared
/// training loop with early stopping on validation nDCG@10 (mean over the target dims).
/// </summary>
public sealed class MatryoshkaAdaptor : ICompressor
{
    public const string SupervisedName = "Matryoshka-Adaptor";
    public const string UnsupervisedName = "MA-unsup";
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "matryoshka-adaptor";

    private readonly MatryoshkaAdaptorOptions _options;
    private readonly Dictionary<string, string> _settings = new();
    private ResidualAdaptor? _adaptor;

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
    }

    public void Fit(TrainingData data)
    {
        var inputDim = data.Corpus.Dim;
        if (Dims[0] > inputDim) throw new ArgumentException($"{Name}: dims up to {Dims[0]} asked of {inputDim}-d embeddings");
        Determinism.Seed(data.Seed);
        _adaptor?.Dispose();
        _adaptor = new ResidualAdaptor(inputDim, _options.HiddenDim ?? inputDim);
        _settings.Clear();
        _runs.Clear();
        foreach (var (key, value) in _options.Describe()) _settings[key] = value;
        _settings["input dim"] = inputDim.ToString(CultureInfo.InvariantCulture);
        _settings["hidden dim"] = _adaptor.HiddenDim.ToString(CultureInfo.InvariantCulture);

        var unsupervised = _options.Loop("unsupervised");
        using var set = new TrainingSet(data, unsupervised.HardNegativePool);
        if (_options.Input == AdaptorInput.Centred)
        {
            using var mean = set.Corpus.mean([0L], keepdim: true);
            _adaptor.SetInputMap(mean);
        }
        else if (_options.Input == AdaptorInput.PcaBasis)
        {
            var pca = new Pca([inputDim]);
            pca.FitOn(data.Corpus);
            var (mean, basis) = pca.State;
            using (var scope = NewDisposeScope())
                _adaptor.SetInputMap(mean.to_type(ScalarType.Float32), basis.to_type(ScalarType.Float32));
        }
        using var neighbours = new AnchorNeighbours(set, _options.TopK);
        var (seconds, _) = RunStage(set, neighbours, data.Seed, _options, "unsupervised", supervisedStage: false);
        if (_options.Supervised) seconds += FitSupervised(set, neighbours, data.Seed);
        _settings["training seconds"] = seconds.ToString("F1", CultureInfo.InvariantCulture);
    }

    /// <summary>The supervised stage once per ranking-loss candidate, each from the unsupervised
    /// state; keeps the weights with the best validation nDCG@10.</summary>
    private double FitSupervised(TrainingSet set, AnchorNeighbours neighbours, long seed)
    {
        var parameters = _adaptor!.parameters().ToArray();
        var start = parameters.Select(p => p.detach().clone()).ToArray();
        Tensor[]? best = null;
        var bestScore = double.NegativeInfinity;
        RankingLossForm? bestForm = null;
        double seconds = 0;
        var candidates = _options.RankingLossCandidates.Count > 0 ? _options.RankingLossCandidates : [_options.RankingLoss];
        foreach (var form in candidates)
        {
            using (no_grad())
                for (var i = 0; i < parameters.Length; i++) parameters[i].copy_(start[i]);
            var stage = candidates.Count > 1 ? $"supervised, {form}" : "supervised";
            var (stageSeconds, score) = RunStage(set, neighbours, seed, _options with { RankingLoss = form }, stage, supervisedStage: true);
            seconds += stageSeconds;
            if (score > bestScore)
            {
                bestScore = score;
                bestForm = form;
                foreach (var b in best ?? []) b.Dispose();
                best = parameters.Select(p => p.detach().clone()).ToArray();
            }
        }
        using (no_grad())
            for (var i = 0; i < parameters.Length; i++) parameters[i].copy_(best![i]);
        foreach (var t in start.Concat(best!)) t.Dispose();
        _settings["ranking loss (chosen on validation)"] = bestForm!.ToString()!;
        return seconds;
    }

    private (double Seconds, double Score) RunStage(TrainingSet set, AnchorNeighbours neighbours, long seed,
        MatryoshkaAdaptorOptions options, string stage, bool supervisedStage)
    {
        var objective = new MatryoshkaAdaptorObjective(_adaptor!, neighbours, Dims, options, supervisedStage);
        var result = TrainingLoop.Run(set, objective, options.Loop(stage), seed);
        _runs.Add((stage, result));
        _settings[$"{stage} stage"] = string.Create(CultureInfo.InvariantCulture,
            $"best validation nDCG@10 (mean over dims) {result.BestValidationNdcg10:F4} at step {result.BestStep} of {result.StepsRun}{(result.StoppedEarly ? ", early stop" : "")}");
        return (result.Seconds, result.BestValidationNdcg10);
    }

    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role)
    {
        BaselineTensors.CheckDim(Name, Dims, dim);
        var adaptor = _adaptor ?? throw new InvalidOperationException($"{Name}: Fit (or Load) before Compress");
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
        };
        SavedModel.Write(directory, Kind, this, config, SavedModelReader.StateOf(adaptor, "adaptor."));
    }

    /// <summary>Rebuild from a saved folder; the options are as saved only as far as inference needs (dims, widths).</summary>
    public static MatryoshkaAdaptor Load(string directory)
    {
        using var saved = SavedModel.Open(directory);
        return Load(saved);
    }

    internal static MatryoshkaAdaptor Load(SavedModelReader saved)
    {
        saved.Expect(Kind);
        Determinism.ConfigureTorch();
        var inputDim = saved.Get<int>("input_dim");
        var hiddenDim = saved.Get<int>("hidden_dim");
        var method = new MatryoshkaAdaptor(saved.Dims, new MatryoshkaAdaptorOptions { Supervised = saved.Get<bool>("supervised"), HiddenDim = hiddenDim });
        foreach (var (key, value) in saved.Settings) method._settings[key] = value;
        method._adaptor = new ResidualAdaptor(inputDim, hiddenDim);
        saved.ReadInto(method._adaptor, "adaptor.");
        return method;
    }

    public void Dispose()
    {
        _adaptor?.Dispose();
        _adaptor = null;
    }
}
