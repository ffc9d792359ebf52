using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// What <see cref="TrainingLoop"/> trains, seen in general: parameter groups, a loss for each step
/// (the task draws its own batch), and a validation score where higher is better. Retrieval
/// objectives (<see cref="ITrainingObjective"/>) come with pair batches and validation nDCG@10
/// (<see cref="RetrievalTask"/>); other models (the multimodal joint space) bring their own.
/// </summary>
public interface ILoopTask
{
    IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    /// <summary>Optimizer steps per pass over the training data (for <see cref="TrainingStep.Epoch"/>).</summary>
    int StepsPerEpoch { get; }

    /// <summary>The scalar loss of step <paramref name="step"/>, drawn and computed inside the loop's dispose scope.</summary>
    Tensor Loss(TrainingStep step);

    /// <summary>Called after the optimizer step, still inside the step's scope.</summary>
    void AfterStep(TrainingStep step) { }

    /// <summary>Whether there is anything to validate on (no: the last weights are kept).</summary>
    bool CanValidate { get; }

    /// <summary>The validation score of the current weights; higher is better; drives early stopping and selection.</summary>
    double Validate();

    /// <summary>The validation score of the current weights at each served dim (per-dim selection reads it;
    /// the order is the task's, its first dim the one whose best weights the loop leaves in place); null: one score only.</summary>
    IReadOnlyList<(int Dim, double Ndcg)>? ValidateByDim() => null;

    /// <summary>Whether the weights before the first step may be kept as the best (yes for a map that starts as a
    /// baseline, e.g. PCA; no for a stage that must train and only lets validation decide for how long).</summary>
    bool InitialIsCandidate => true;

    /// <summary>What <see cref="Validate"/> measures, for progress and logs.</summary>
    string ValidationMeasure => "validation score";

    /// <summary>State besides parameters that a resumed run needs bit-exact; restored in place.</summary>
    IReadOnlyList<(string Name, Tensor Value)> ExtraState => [];

    /// <summary>Describes the configuration; a checkpoint is only resumed when this matches.</summary>
    string Fingerprint { get; }
    /// <summary>The identity of the data it trains on (checksums); a checkpoint of other data is refused.</summary>
    string TrainingDataIdentity => "";
}

/// <summary>A retrieval objective on pair batches (<see cref="PairBatcher"/>), validated by nDCG@10 (<see cref="ValidationScorer"/>).</summary>
public sealed class RetrievalTask(TrainingSet set, ITrainingObjective objective, TrainingOptions options, long seed) : ILoopTask
{
    private readonly PairBatcher _batcher = new(set, options.BatchSize, options.HardNegativesPerQuery, options.RandomDocs, seed);
    private readonly ValidationScorer _scorer = new(set);
    private TrainingBatch? _batch;

    public IReadOnlyList<ParameterGroup> ParameterGroups => objective.ParameterGroups;
    public int StepsPerEpoch => _batcher.StepsPerEpoch;

    public Tensor Loss(TrainingStep step)
    {
        _batch = _batcher.Batch(step.Step);
        return objective.Loss(_batch, step);
    }

    public void AfterStep(TrainingStep step) => objective.AfterStep(_batch!, step);
    public bool CanValidate => _scorer.HasQueries;
    public double Validate() => _scorer.Score(objective);
    public IReadOnlyList<(int Dim, double Ndcg)>? ValidateByDim() => _scorer.ScoreByDim(objective);
    public string ValidationMeasure => "val nDCG@10";
    public IReadOnlyList<(string Name, Tensor Value)> ExtraState => objective.ExtraState;
    public string Fingerprint => objective.Fingerprint;
    public string TrainingDataIdentity => TrainingDataHash.Of(set.Data);
}
