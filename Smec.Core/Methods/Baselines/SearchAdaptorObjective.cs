using Smec.Core.Losses;
using Smec.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Search-Adaptor at one target dimension for the shared loop: the ranking loss on the projected
/// query and doc embeddings, alpha times the L1 recovery of the full-width adaptor output
/// (e + f(e) against e, for the batch's queries and docs), beta times the query-prediction loss.
/// </summary>
public sealed class SearchAdaptorObjective(SearchAdaptorModel model, Linear queryPredictor, RegularizerWeights weights, SearchAdaptorOptions options)
    : ITrainingObjective
{
    public IReadOnlyList<ParameterGroup> ParameterGroups { get; } =
        [new([.. model.parameters(), .. queryPredictor.parameters()])];

    public IReadOnlyList<int> ValidationDims { get; } = [model.TargetDim];

    public string Fingerprint =>
        $"search-adaptor;dim={model.TargetDim};{weights};" + string.Join(";", options.Describe().Select(kv => $"{kv.Key}={kv.Value}"));

    public Tensor Loss(TrainingBatch batch, TrainingStep step)
    {
        model.train();
        var adaptedQueries = model.Adapt(batch.Queries);
        var adaptedDocs = model.Adapt(batch.Docs);
        var queries = model.Project(adaptedQueries);
        var docs = model.Project(adaptedDocs);
        var loss = RankingLoss.Compute(options.RankingLoss, queries, docs, batch.Relevance, batch.PositiveColumn, options.Temperature);
        if (weights.Alpha > 0)
            loss = loss.Add(ReconstructionLoss.Compute(
                cat([batch.Queries, batch.Docs], 0), cat([adaptedQueries, adaptedDocs], 0), options.RecoveryNorm).Times(weights.Alpha));
        if (weights.Beta > 0)
        {
            var positives = docs.index_select(0, batch.PositiveColumn);
            var relevance = batch.Relevance.gather(1, batch.PositiveColumn.unsqueeze(1)).squeeze(1);
            loss = loss.Add(QueryPredictionLoss.Compute(queryPredictor.forward(positives), batch.Queries, relevance).Times(weights.Beta));
        }
        return loss;
    }

    public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role)
    {
        model.eval();
        return model.forward(embeddings);
    }
}
