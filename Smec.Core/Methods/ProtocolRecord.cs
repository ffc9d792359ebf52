using System.Globalization;

namespace Smec.Core.Methods;

/// <summary>
/// The selection protocol a trained method followed in one Fit, recorded in its Settings under
/// "protocol.*" so that every result says how much training and tuning it got: the optimiser, the
/// step budget per trained dimension (the budget of one grid point divided by the number of target
/// dims below the input dim that it produces), the steps actually run (all grid points), the loss
/// forms and grid points tried, how the kept weights were chosen, and the function class of its
/// learned maps with their parameter count (so capacity is never a silent difference). Reports read these keys.
/// </summary>
/// <param name="Parameters">The parameters of the maps that produce the served embeddings, summed over
/// every map the method keeps (SMEC's steps, Search-Adaptor's per-dim models); not counted: ADS logits
/// (they choose dims) and Search-Adaptor's query predictor (a head used only by a training loss).</param>
public sealed record ProtocolRecord(
    string Optimizer, double LearningRate, double WeightDecay, double MaxStepsPerDim, int StepsRun,
    string LossForms, int GridPoints, string SelectionCriterion, FunctionClass FunctionClass, long Parameters)
{
    public const string Prefix = "protocol.";
    public static readonly string[] Keys =
        ["optimizer", "lr", "weight_decay", "max_steps_per_dim", "steps_run", "loss_forms", "grid_points", "selection", "function_class", "parameters"];

    /// <summary>The option's word for a function class ("linear", "residual-mlp"), as results record it.</summary>
    public static string Word(FunctionClass functionClass) => functionClass switch
    {
        FunctionClass.Linear => "linear",
        FunctionClass.ResidualMlp => "residual-mlp",
        _ => throw new ArgumentOutOfRangeException(nameof(functionClass), functionClass, "unknown function class"),
    };

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
        yield return new(Prefix + "function_class", Word(FunctionClass));
        yield return new(Prefix + "parameters", Parameters.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Target dims a method produces below its input width (at least 1): the unit of the step budget.</summary>
    public static int TrainedDims(IEnumerable<int> dims, int inputDim) => Math.Max(1, dims.Count(d => d < inputDim));
}
