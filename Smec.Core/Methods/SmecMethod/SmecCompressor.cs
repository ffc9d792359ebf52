using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// SMEC as an <see cref="ICompressor"/>: SMRL steps (each trained by the shared loop, then frozen) with
/// ADS and S-XBM, or the ablations the options switch off. A trained model saves as a
/// <see cref="SavedModel"/> (options, ADS indices and per-step training results in its config, the
/// chain's weights as tensors) and loads with <see cref="Load(string)"/>.
/// </summary>
public sealed class SmecCompressor : ICompressor
{
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "smec";

    public SmecOptions Options { get; }
    public TrainingOptions Training { get; }
    public SmecChain Chain { get; private set; }
    /// <summary>Per step: what the loop reported (best validation nDCG@10, steps, seconds).</summary>
    public List<StepRecord> StepRecords { get; } = [];

    public sealed record StepRecord(int Step, int InputDim, int OutputDim, int[] SelectionDims, double BestValidationNdcg10,
        int BestStep, int StepsRun, bool StoppedEarly, double Seconds);

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
                settings[$"result.step{r.Step}"] = string.Create(CultureInfo.InvariantCulture,
                    $"{r.InputDim}->{r.OutputDim}->[{string.Join(",", r.SelectionDims)}] val_ndcg10={r.BestValidationNdcg10:F4} best_step={r.BestStep} steps={r.StepsRun} seconds={r.Seconds:F1}");
            return settings;
        }
    }

    /// <summary>Train from scratch: every SMRL step in turn (or the one MRL-style layer when SMRL is off).</summary>
    public void Fit(TrainingData data)
    {
        Determinism.Seed(data.Seed);
        if (data.Corpus.Dim != Options.InputDim)
            throw new ArgumentException($"SMEC ladder starts at {Options.InputDim} dims but the embeddings have {data.Corpus.Dim}");
        Chain = new SmecChain(Options.StepInput, Options.DimSource);
        _savedSettings = null;
        StepRecords.Clear();
        using var set = new TrainingSet(data, Training.HardNegativePool);
        if (Options.Smrl)
            for (var s = 1; s < Options.Ladder.Length; s++) TrainStep(set, data.Seed, Options.Ladder[s - 1], [Options.Ladder[s]]);
        else
            TrainStep(set, data.Seed, Options.InputDim, Options.Ladder[1..]);
    }

    /// <summary>Add one SMRL step down to <paramref name="dim"/>, leaving every earlier step as it is.</summary>
    public void ExtendTo(TrainingData data, int dim)
    {
        if (!Options.Smrl) throw new InvalidOperationException("only a sequential (SMRL) chain can be extended");
        var smallest = Chain.Steps[^1].SelectionDims[^1];
        if (dim >= smallest) throw new ArgumentException($"the chain already reaches {smallest} dims; extend to fewer than that, not {dim}");
        Determinism.Seed(data.Seed + Chain.Steps.Count);
        using var set = new TrainingSet(data, Training.HardNegativePool);
        TrainStep(set, data.Seed, smallest, [dim]);
    }

    private void TrainStep(TrainingSet set, long seed, int outputDim, int[] selectionDims)
    {
        var index = Chain.Steps.Count;
        var inputDim = index == 0 ? Options.InputDim : Chain.NextStepInputDim;
        long[]? skip = Options.Residual && inputDim != outputDim
            ? Chain.Steps[^1].Selections[0].SelectedIndices()
            : null;
        var step = new SmrlStep(inputDim, outputDim, selectionDims, Options.Ads, Options.Residual, skip);
        Chain.AddStep(step);
        Chain.eval();
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var corpusInput = Chain.StepInput(set.Corpus, index);
            LayerInitialiser.Initialise(step, Options.Init, corpusInput);
            if (Options.Ads && Options.AdsInit == AdsLogitInit.Variance) InitialiseLogitsFromVariance(step, corpusInput);
        }

        using var objective = new SmrlStepObjective(Chain, index, Options, set);
        var label = $"{Name} step {index + 1} {inputDim}->{outputDim}->{string.Join("->", selectionDims)}";
        var training = Training with
        {
            Label = label,
            RandomDocs = Options.SimilarityWeight > 0 ? Options.SimilarityDocs : 0,
            MinSteps = Options.Ads ? Math.Max(Training.MinSteps, Math.Min(Options.AdsAnnealSteps, Training.MaxSteps)) : Training.MinSteps,
            // One checkpoint per step: a restarted Fit skips finished steps and resumes the interrupted one.
            CheckpointPath = Training.CheckpointPath is { } path ? $"{path}.step{index + 1}" : null,
        };
        // Each step has its own seed stream, so adding a step later draws what a from-scratch run would.
        var result = TrainingLoop.Run(set, objective, training, seed * 1000 + index);
        foreach (var p in step.parameters()) p.requires_grad = false; // frozen from now on
        Chain.eval();
        StepRecords.Add(new StepRecord(index + 1, inputDim, outputDim, selectionDims, result.BestValidationNdcg10,
            result.BestStep, result.StepsRun, result.StoppedEarly, result.Seconds));
    }

    /// <summary>Start each ADS at the log-variance of the dims it chooses from, so the strongest dims start selected.</summary>
    private static void InitialiseLogitsFromVariance(SmrlStep step, Tensor corpusInput)
    {
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
        };
        SavedModel.Write(directory, Kind, this, config, SavedModelReader.StateOf(Chain, "chain."));
    }

    /// <summary>Load a model written by <see cref="Save"/>; errors name the file and what was wrong.</summary>
    public static SmecCompressor Load(string directory)
    {
        using var saved = SavedModel.Open(directory);
        return Load(saved);
    }

    internal static SmecCompressor Load(SavedModelReader saved)
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
                s.SkipIndices.Length > 0 ? s.SkipIndices : null));
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
