using System.Globalization;

namespace Smec.Core.Methods;

/// <summary>
/// The selection protocol a trained method followed in one Fit, recorded in its Settings under
/// "protocol.*" so that every result says how much training and tuning it got: the optimiser, the
/// step budget per trained dimension (the budget of one grid point divided by the number of target
/// dims below the input dim that it produces), the steps actually run (all grid points), the loss
/// forms and grid points tried, and how the kept weights were chosen. Reports read these keys.
/// </summary>
public sealed record ProtocolRecord(
    string Optimizer, double LearningRate, double WeightDecay, double MaxStepsPerDim, int StepsRun,
    string LossForms, int GridPoints, string SelectionCriterion)
{
    public const string Prefix = "protocol.";
    public static readonly string[] Keys =
        ["optimizer", "lr", "weight_decay", "max_steps_per_dim", "steps_run", "loss_forms", "grid_points", "selection"];

    public IEnumerable<KeyValuePair<string, string>> Describe()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        yield return new(Prefix + "optimizer", Optimizer);
        yield return new(Prefix + "lr", F(LearningRate));
        yield return new(Prefix + "weight_decay", F(WeightDecay));
        yield return new(Prefix + "max_steps_per_dim", MaxStepsPerDim.ToString("0.#", CultureInfo.InvariantCulture));
        yield return new(Prefix + "steps_run", StepsRun.ToString(CultureInfo.InvariantCulture));
        yield return new(Prefix + "loss_forms", LossForms);
        yield return new(Prefix + "grid_points", GridPoints.ToString(CultureInfo.InvariantCulture));
        yield return new(Prefix + "selection", SelectionCriterion);
    }

    /// <summary>Target dims a method produces below its input width (at least 1): the unit of the step budget.</summary>
    public static int TrainedDims(IEnumerable<int> dims, int inputDim) => Math.Max(1, dims.Count(d => d < inputDim));
}
