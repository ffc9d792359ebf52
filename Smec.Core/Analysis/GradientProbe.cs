using System.Globalization;
using Smec.Core.Storage;
using Smec.Core.Losses;
using Smec.Core.Methods;
using Smec.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Analysis;

/// <summary>One epoch of the gradient probe (catalog item 8): weights feeding output dims [0, shared)
/// are used by both nested losses under MRL; those feeding [shared, output) only by the full-size loss.</summary>
public sealed record GradientProbeRow(
    string Method, int Epoch, double MeanAbsGradShared, double MeanAbsGradUnshared,
    double GradVarianceShared, double GradVarianceUnshared, double MeanTrainLoss);

/// <summary>The toy setting of the paper's gradient figure, on real embeddings.</summary>
public sealed record GradientProbeOptions
{
    public int OutputDim { get; init; } = 192;
    public int SharedDim { get; init; } = 96;
    public int Epochs { get; init; } = 40;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    public RankingLossForm LossForm { get; init; } = RankingLossForm.Pairwise;
    public double LossTemperature { get; init; } = 0.05;
    /// <summary>true (default): MRL's loss is the mean of its nested terms, so each loss term weighs as
    /// SMRL's single term does and MRL's gradients are not larger merely because two losses are summed
    /// (like with like); false: the plain sum, as MRL trains.</summary>
    public bool NormalisePerLossTerm { get; init; } = true;
}

/// <summary>
/// Trains one FC layer D -> OutputDim twice from the same seeded init and measures, per epoch, the
/// mean |gradient| of the two weight groups and the gradient variance (per weight, across the
/// epoch's steps, averaged over the group's weights).
/// MRL: L(z[:OutputDim]) + L(z[:SharedDim]), the nested losses sharing the first rows.
/// SMRL: the layer of its first step gets L(z[:OutputDim]) only; the SharedDim output is a later,
/// separate step (ADS off here so the two methods differ only in how the losses meet the weights).
/// </summary>
public static class GradientProbe
{
    public static IReadOnlyList<GradientProbeRow> Run(TrainingData data, GradientProbeOptions options)
    {
        using var set = new TrainingSet(data, hardNegativePool: 30);
        var rows = new List<GradientProbeRow>();
        foreach (var method in new[] { "MRL", "SMRL" })
            rows.AddRange(RunOne(set, data.Seed, method, options));
        return rows;
    }

    private static IEnumerable<GradientProbeRow> RunOne(TrainingSet set, long seed, string method, GradientProbeOptions options)
    {
        Runtime.Determinism.Seed(seed); // the same init for both methods
        using var objective = new ProbeObjective(set.Dim, options, nested: method == "MRL");
        var stepsPerEpoch = new PairBatcher(set, options.BatchSize, 1, 0, seed).StepsPerEpoch;
        var stats = new EpochStatistics(options.SharedDim, options.OutputDim - options.SharedDim, set.Dim);
        var epochs = new List<(double, double, double, double)>();
        var training = new TrainingOptions
        {
            MaxSteps = options.Epochs * stepsPerEpoch, BatchSize = options.BatchSize, LearningRate = options.LearningRate,
            EvaluateEvery = stepsPerEpoch, Patience = int.MaxValue, Progress = false, Label = $"gradient probe {method}",
            AfterBackward = step =>
            {
                var grad = objective.Weight.grad!;
                stats.Add(grad.narrow(0, 0, options.SharedDim), grad.narrow(0, options.SharedDim, options.OutputDim - options.SharedDim));
                if ((step.Step + 1) % stepsPerEpoch == 0) epochs.Add(stats.CloseEpoch());
            },
        };
        var result = TrainingLoop.Run(set, objective, training, seed);
        // History[0] is the untrained map; entry e + 1 holds epoch e's mean train loss.
        for (var e = 0; e < epochs.Count; e++)
        {
            var (absShared, absUnshared, varShared, varUnshared) = epochs[e];
            yield return new GradientProbeRow(method, e, absShared, absUnshared, varShared, varUnshared, result.History[e + 1].MeanTrainLoss);
        }
    }

    public static void WriteCsv(string path, IEnumerable<GradientProbeRow> rows)
    {
        var lines = new List<string> { "method,epoch,mean_abs_grad_shared,mean_abs_grad_unshared,grad_var_shared,grad_var_unshared,mean_train_loss" };
        lines.AddRange(rows.Select(r => string.Join(",", r.Method, r.Epoch.ToString(CultureInfo.InvariantCulture),
            F(r.MeanAbsGradShared), F(r.MeanAbsGradUnshared), F(r.GradVarianceShared), F(r.GradVarianceUnshared), F(r.MeanTrainLoss))));
        AtomicFile.WriteAllLines(path, lines);
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>Running per-weight sums over an epoch's steps, for the two groups.</summary>
    private sealed class EpochStatistics(int sharedRows, int unsharedRows, int cols)
    {
        private readonly double[] _sumShared = new double[sharedRows * cols], _sqShared = new double[sharedRows * cols];
        private readonly double[] _sumUnshared = new double[unsharedRows * cols], _sqUnshared = new double[unsharedRows * cols];
        private double _absShared, _absUnshared;
        private int _steps;

        public void Add(Tensor shared, Tensor unshared)
        {
            _absShared += Accumulate(shared, _sumShared, _sqShared);
            _absUnshared += Accumulate(unshared, _sumUnshared, _sqUnshared);
            _steps++;
        }

        private static double Accumulate(Tensor grad, double[] sum, double[] sq)
        {
            using var cpu = grad.detach().cpu().contiguous();
            var values = cpu.data<float>().ToArray();
            var abs = 0.0;
            for (var i = 0; i < values.Length; i++)
            {
                sum[i] += values[i];
                sq[i] += (double)values[i] * values[i];
                abs += Math.Abs(values[i]);
            }
            return abs / values.Length;
        }

        public (double AbsShared, double AbsUnshared, double VarShared, double VarUnshared) CloseEpoch()
        {
            var result = (_absShared / _steps, _absUnshared / _steps, Variance(_sumShared, _sqShared), Variance(_sumUnshared, _sqUnshared));
            Array.Clear(_sumShared); Array.Clear(_sqShared); Array.Clear(_sumUnshared); Array.Clear(_sqUnshared);
            _absShared = _absUnshared = 0; _steps = 0;
            return result;
        }

        private double Variance(double[] sum, double[] sq)
        {
            var total = 0.0;
            for (var i = 0; i < sum.Length; i++)
            {
                var mean = sum[i] / _steps;
                total += sq[i] / _steps - mean * mean;
            }
            return total / sum.Length;
        }
    }

    /// <summary>The probe's layer and its loss: nested prefixes (MRL) or the full output only (SMRL's first step).</summary>
    private sealed class ProbeObjective : ITrainingObjective, IDisposable
    {
        private readonly Linear _layer;
        private readonly GradientProbeOptions _options;
        private readonly bool _nested;

        public ProbeObjective(int inputDim, GradientProbeOptions options, bool nested)
        {
            _layer = nn.Linear(inputDim, options.OutputDim, hasBias: false);
            _options = options;
            _nested = nested;
            ParameterGroups = [new ParameterGroup([_layer.weight!], WeightDecay: 0.0)];
        }

        public Parameter Weight => _layer.weight!;
        public IReadOnlyList<ParameterGroup> ParameterGroups { get; }
        public IReadOnlyList<int> ValidationDims => [_options.OutputDim];
        public string Fingerprint => $"gradient-probe nested={_nested} out={_options.OutputDim} shared={_options.SharedDim} mean_terms={_options.NormalisePerLossTerm}";

        public Tensor Loss(TrainingBatch batch, TrainingStep step)
        {
            var queries = _layer.forward(batch.Queries);
            var docs = _layer.forward(batch.Docs);
            var dims = _nested ? new[] { _options.OutputDim, _options.SharedDim } : [_options.OutputDim];
            var sum = NestedLoss.Sum(dims, d => RankingLoss.Compute(_options.LossForm, NestedLoss.FirstColumns(queries, d), NestedLoss.FirstColumns(docs, d),
                batch.Relevance, batch.PositiveColumn, _options.LossTemperature));
            return _options.NormalisePerLossTerm ? sum.DividedBy(dims.Length) : sum;
        }

        public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role)
        {
            using var _ = no_grad();
            return NestedLoss.FirstColumns(_layer.forward(embeddings), dim);
        }

        public void Dispose() => _layer.Dispose();
    }
}
