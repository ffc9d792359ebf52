using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// ADS alone over the frozen encoder's own dims (catalog item 9): which <c>k</c> of the D embedding
/// dims ADS keeps when it selects straight from the embedding, with no layer in front, trained with
/// SMEC's supervised loss on the selection. The same grid as a SMEC step (loss form x logits at each
/// dim's log-variance on the corpus or uniform), the same anneal; the selection is the top-k logits at
/// the best validation step of the best grid point.
/// </summary>
public static class EmbeddingDimensionSelector
{
    /// <param name="Chosen">The grid point kept on validation (loss form, ADS initialisation).</param>
    /// <param name="Grid">Every point tried with its validation nDCG@10.</param>
    public sealed record Selection(int Dim, long[] Indices, double ValidationNdcg10, int BestStep, int StepsRun, string Chosen = "", string Grid = "");

    /// <summary>Trains ADS once per (loss candidate, ADS initialisation) and keeps the selection with the best validation nDCG@10.</summary>
    public static Selection Fit(TrainingSet set, int keep, SmecOptions options, TrainingOptions training, long seed)
    {
        Selection? best = null;
        var tried = new List<string>();
        var steps = 0;
        foreach (var form in options.LossCandidates)
            foreach (var init in options.AdsInitCandidates)
            {
                using var objective = new Objective(set, keep, options with { LossForm = form }, init);
                var result = TrainingLoop.Run(set, objective, training with
                {
                    Label = $"ADS {set.Dim}->{keep} [{form}, init {init}]",
                    MinSteps = Math.Max(training.MinSteps, Math.Min(options.AdsAnnealSteps, training.MaxSteps)),
                }, seed);
                objective.Ads.eval();
                steps += result.StepsRun;
                tried.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{form}, init {init}: {result.BestValidationNdcg10:F4}"));
                if (best is null || result.BestValidationNdcg10 > best.ValidationNdcg10)
                    best = new Selection(keep, objective.Ads.SelectedIndices(), result.BestValidationNdcg10, result.BestStep, result.StepsRun, $"{form}, init {init}");
            }
        return best! with { StepsRun = steps, Grid = string.Join("; ", tried) };
    }

    private sealed class Objective : ITrainingObjective, IDisposable
    {
        private readonly SmecOptions _options;
        public AdaptiveDimensionSelection Ads { get; }

        public Objective(TrainingSet set, int keep, SmecOptions options, AdsLogitInit init)
        {
            _options = options;
            Ads = new AdaptiveDimensionSelection(set.Dim, keep);
            if (init == AdsLogitInit.Variance)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var logVariance = set.Corpus.var(0).ClampMin(1e-12).log();
                Ads.InitialiseLogits(logVariance - logVariance.mean());
            }
            ParameterGroups = [new ParameterGroup([Ads.Logits], options.AdsLearningRateScale, WeightDecay: 0.0)];
            ValidationDims = [keep];
        }

        public IReadOnlyList<ParameterGroup> ParameterGroups { get; }
        public IReadOnlyList<int> ValidationDims { get; }
        public string Fingerprint => $"ads-over-embedding:{Ads.InputDim}->{Ads.OutputDim};loss={_options.LossForm};" +
            string.Join(";", _options.Describe().Select(kv => $"{kv.Key}={kv.Value}"));

        public Tensor Loss(TrainingBatch batch, TrainingStep step)
        {
            Ads.train();
            Ads.Temperature = _options.AdsTemperature(step.Step);
            Ads.NoiseGenerator = step.Generator;
            // One draw for queries and docs, so both sides compare the same dims.
            var selection = Ads.Sample();
            return RankingLoss.Compute(_options.LossForm, AdaptiveDimensionSelection.Apply(batch.Queries, selection),
                AdaptiveDimensionSelection.Apply(batch.Docs, selection), batch.Relevance, batch.PositiveColumn, _options.LossTemperature);
        }

        public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role)
        {
            var wasTraining = Ads.training;
            Ads.eval();
            try
            {
                using var _ = no_grad();
                return Ads.forward(embeddings);
            }
            finally
            {
                if (wasTraining) Ads.train();
            }
        }

        public void Dispose() => Ads.Dispose();
    }
}
