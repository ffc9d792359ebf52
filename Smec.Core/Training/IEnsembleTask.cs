using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// What <see cref="EnsembleTrainingLoop"/> trains: K members of one method (seeds, grid points, folds)
/// as one model. Every parameter leads with the member dim K; member k's slice is what member k would
/// train alone, from the same initial weights, on its own batches. Losses are per member, so the
/// gradient of their sum reaches each member's slice only.
/// </summary>
public interface IEnsembleTask
{
    int Members { get; }

    /// <summary>Parameter groups as in <see cref="ILoopTask"/>; each parameter is [K, ...].</summary>
    IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    /// <summary>Optimizer steps per pass over member <paramref name="member"/>'s training data.</summary>
    int StepsPerEpoch(int member);

    /// <summary>[K] losses of one step, one per member (each member's own batch and noise: <paramref name="steps"/>[k]),
    /// computed inside the loop's dispose scope. Stopped members may be computed too; the optimizer ignores them.</summary>
    Tensor Losses(IReadOnlyList<TrainingStep> steps);

    /// <summary>Called after the optimizer step, still inside the step's scope.</summary>
    void AfterStep(IReadOnlyList<TrainingStep> steps) { }

    /// <summary>Whether the members have anything to validate on (no: the last weights are kept).</summary>
    bool CanValidate { get; }

    /// <summary>Member <paramref name="member"/>'s validation score of its current weights; higher is better.</summary>
    double Validate(int member);

    /// <summary>Member <paramref name="member"/>'s validation score per served dim (per-dim selection), or null when it has one score only.</summary>
    IReadOnlyList<(int Dim, double Ndcg)>? ValidateByDim(int member) => null;

    string ValidationMeasure => "validation score";
}
