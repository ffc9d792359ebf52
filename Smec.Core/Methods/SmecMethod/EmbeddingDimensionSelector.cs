using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// ADS alone over the frozen encoder's own dims (catalog item 9): which <c>k</c> of the D embedding
/// dims ADS keeps when it selects straight from the embedding, with no layer in front, trained with
/// SMEC's supervised loss on the selection. Logits start at each dim's log-variance on the corpus
/// (as SMEC's steps do) and anneal like SMEC's; the selection is the top-k logits at the best
/// validation step.
/// </summary>
public static class EmbeddingDimensionSelector
{
    public sealed record Selection(int Dim, long[] Indices, double ValidationNdcg10, int BestStep, int StepsRun);

    public static Selection Fit(TrainingSet set, int keep, SmecOptions options, TrainingOptions training, long seed)
    {
        using var objective = new Objective(set, keep, options);
        var result = TrainingLoop.Run(set, objective, training with
        {
            Label = $"ADS {set.Dim}->{keep}",
            MinSteps = Math.Max(training.MinSteps, Math.Min(options.AdsAnnealSteps, training.MaxSteps)),
        }, seed);
        objective.Ads.eval();
        return new Selection(keep, objective.Ads.SelectedIndices(), result.BestValidationNdcg10, result.BestStep, result.StepsRun);
    }

    private sealed class Objective : ITrainingObjective, IDisposable
    {
        private readonly SmecOptions _options;
        public AdaptiveDimensionSelection Ads { get; }

        public Objective(TrainingSet set, int keep, SmecOptions options)
        {
            _options = options;
            Ads = new AdaptiveDimensionSelection(set.Dim, keep);
            if (options.AdsInit == AdsLogitInit.Variance)
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
        public string Fingerprint => $"ads-over-embedding:{Ads.InputDim}->{Ads.OutputDim};" +
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
