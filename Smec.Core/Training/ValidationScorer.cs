using Smec.Core.Methods;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// Mean validation nDCG@10 of an objective over its validation dims: validation queries against the
/// whole corpus, both compressed by the objective. Exact search, so the score is deterministic.
/// </summary>
public sealed class ValidationScorer(TrainingSet set)
{
    private readonly string[] _queryIds = set.ValidationQueryRows.Select(r => set.Data.Queries.Ids[r]).ToArray();

    public bool HasQueries => _queryIds.Length > 0;

    /// <summary>nDCG@10 per validation dim.</summary>
    public IReadOnlyList<(int Dim, double Ndcg)> ScoreByDim(ITrainingObjective objective)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var queries = set.Queries.index_select(0, tensor(set.ValidationQueryRows.Select(r => (long)r).ToArray()));
        return objective.ValidationDims
            .Select(dim => (dim, Ndcg10.Mean(
                objective.Compress(queries, dim, EmbeddingRole.Query),
                objective.Compress(set.Corpus, dim, EmbeddingRole.Document),
                _queryIds, set.Data.Corpus.Ids, set.Data.Validation)))
            .ToArray();
    }

    public double Score(ITrainingObjective objective) => ScoreByDim(objective).Average(s => s.Ndcg);
}
