using Smec.Core.Training;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// The training setup Matryoshka-Adaptor and Search-Adaptor share (both papers report Adam, lr 1e-3,
/// batch 128, early stopping with patience 500 steps), and the loop options built from it.
/// </summary>
public abstract record AdaptorTrainingOptions
{
    /// <summary>Cosine scores are divided by this in the ranking loss (inferred; raw cosines give tiny gradients).</summary>
    public double Temperature { get; init; } = 0.05;
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 1e-3;
    public int PatienceSteps { get; init; } = 500;
    public int EvaluateEvery { get; init; } = 50;
    public int HardNegativePool { get; init; } = 30;
    public int HardNegativesPerQuery { get; init; } = 1;
    public bool Progress { get; init; } = true;
    /// <summary>Adam without weight decay as both papers report; the local profile sets AdamW with
    /// SMEC's weight decay so every trained method shares one optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    public double WeightDecay { get; init; } = 0.0;

    /// <summary>Loop options (patience counted in validations).</summary>
    protected TrainingOptions LoopOptions(int maxSteps, int randomDocs, string label) => new()
    {
        MaxSteps = maxSteps,
        BatchSize = BatchSize,
        LearningRate = LearningRate,
        Optimizer = Optimizer,
        WeightDecay = WeightDecay,
        HardNegativePool = HardNegativePool,
        HardNegativesPerQuery = HardNegativesPerQuery,
        RandomDocs = randomDocs,
        EvaluateEvery = EvaluateEvery,
        Patience = Math.Max(1, PatienceSteps / EvaluateEvery),
        Progress = Progress,
        Label = label,
    };

    /// <summary>The optimiser as recorded in Settings.</summary>
    public string OptimizerText => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Optimizer}, lr {LearningRate:R}, weight decay {WeightDecay:R}, batch {BatchSize}");
}
