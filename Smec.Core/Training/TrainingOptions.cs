using System.Globalization;

namespace Smec.Core.Training;

public enum OptimizerKind { AdamW, Adam }

/// <summary>Options of the shared training loop. Every field is recorded with results (see <see cref="Describe"/>).</summary>
public sealed record TrainingOptions
{
    /// <summary>Step budget; early stopping may end sooner.</summary>
    public int MaxSteps { get; init; } = 1500;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Decoupled weight decay for AdamW, L2 penalty for Adam (torch's defaults: 0.01 for AdamW).</summary>
    public double WeightDecay { get; init; } = 0.01;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;
    /// <summary>Hard negatives are drawn from each query's top-N under the frozen encoder, minus positives.</summary>
    public int HardNegativePool { get; init; } = 30;
    public int HardNegativesPerQuery { get; init; } = 1;
    /// <summary>Random corpus docs per batch for similarity-preservation terms (0 = none).</summary>
    public int RandomDocs { get; init; } = 0;
    /// <summary>Validate every N steps (and at step 0 and at the end).</summary>
    public int EvaluateEvery { get; init; } = 50;
    /// <summary>Stop after this many validations without improvement of validation nDCG@10.</summary>
    public int Patience { get; init; } = 8;
    /// <summary>No early stop before this many steps (e.g. while a temperature is still annealing).</summary>
    public int MinSteps { get; init; } = 0;
    /// <summary>When set, a checkpoint is written there (atomically) at every validation and resumed on restart.</summary>
    public string? CheckpointPath { get; init; }
    public bool Progress { get; init; } = true;
    public string Label { get; init; } = "train";
    /// <summary>Called after backward and before the optimizer step (gradient probes read param.grad here).</summary>
    public Action<TrainingStep>? AfterBackward { get; init; }

    public IReadOnlyDictionary<string, string> Describe() => new SortedDictionary<string, string>
    {
        ["train.max_steps"] = MaxSteps.ToString(CultureInfo.InvariantCulture),
        ["train.batch_size"] = BatchSize.ToString(CultureInfo.InvariantCulture),
        ["train.lr"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["train.weight_decay"] = WeightDecay.ToString("R", CultureInfo.InvariantCulture),
        ["train.optimizer"] = Optimizer.ToString(),
        ["train.hard_negative_pool"] = HardNegativePool.ToString(CultureInfo.InvariantCulture),
        ["train.hard_negatives_per_query"] = HardNegativesPerQuery.ToString(CultureInfo.InvariantCulture),
        ["train.random_docs"] = RandomDocs.ToString(CultureInfo.InvariantCulture),
        ["train.evaluate_every"] = EvaluateEvery.ToString(CultureInfo.InvariantCulture),
        ["train.patience"] = Patience.ToString(CultureInfo.InvariantCulture),
        ["train.min_steps"] = MinSteps.ToString(CultureInfo.InvariantCulture),
    };

    public void Validate()
    {
        if (MaxSteps < 0) throw new ArgumentException($"MaxSteps must be >= 0, got {MaxSteps}");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be >= 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate must be > 0, got {LearningRate}");
        if (EvaluateEvery < 1) throw new ArgumentException($"EvaluateEvery must be >= 1, got {EvaluateEvery}");
        if (Patience < 1) throw new ArgumentException($"Patience must be >= 1, got {Patience}");
        if (HardNegativesPerQuery > HardNegativePool)
            throw new ArgumentException($"HardNegativesPerQuery ({HardNegativesPerQuery}) exceeds HardNegativePool ({HardNegativePool})");
    }
}

/// <summary>One validation during training; <paramref name="ByDim"/>: each served dim's score (per-dim selection only).</summary>
public sealed record TrainingEvaluation(int Step, double MeanTrainLoss, double ValidationNdcg10, IReadOnlyList<(int Dim, double Ndcg)>? ByDim = null);

/// <summary>What a run did: the best validation score (its parameters are the ones left in the objective).
/// Per-dim selection (<see cref="PerDim"/> not null): each dim's best score, step and weights; then
/// BestValidationNdcg10 is the mean over dims of each dim's best, BestStep the first dim's best step,
/// and the weights left in the objective are the first dim's best.</summary>
public sealed record TrainingResult(
    double BestValidationNdcg10, int BestStep, int StepsRun, bool StoppedEarly, bool Resumed,
    IReadOnlyList<TrainingEvaluation> History, double Seconds, IReadOnlyList<DimBest>? PerDim = null)
{
    /// <summary>Free the per-dim snapshots (the caller owns them once it has read what it keeps).</summary>
    public void DisposePerDim()
    {
        foreach (var best in PerDim ?? [])
            foreach (var t in best.Weights) t.Dispose();
    }
}
