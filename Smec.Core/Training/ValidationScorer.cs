using Smec.Core.Methods;
using Smec.Core.Metrics;
using Smec.Core.Retrieval;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// Mean validation nDCG@10 of an objective over its validation dims: validation queries against the
/// whole corpus, both compressed by the objective, exact search and trec_eval's ndcg_cut.10 (the
/// shared metrics, prepared once and evaluated at every validation).
/// </summary>
public sealed class ValidationScorer
{
    private readonly TrainingSet _set;
    private readonly RetrievalEvaluator? _evaluator;

    public ValidationScorer(TrainingSet set)
    {
        _set = set;
        var queryIds = set.ValidationQueryRows.Select(r => set.Data.Queries.Ids[r]).ToArray();
        if (queryIds.Length > 0)
            _evaluator = new RetrievalEvaluator(queryIds, set.Data.Corpus.Ids, set.Data.Validation, [Measure.Ndcg10]);
    }

    public bool HasQueries => _evaluator is not null;

    /// <summary>nDCG@10 per validation dim.</summary>
    public IReadOnlyList<(int Dim, double Ndcg)> ScoreByDim(ITrainingObjective objective)
    {
        if (_evaluator is null) throw new InvalidOperationException("no validation queries with judgements");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var queries = _set.Queries.index_select(0, tensor(_set.ValidationQueryRows.Select(r => (long)r).ToArray()));
        var dims = objective.ValidationDims;
        var compressedQueries = objective.CompressEach(queries, dims, EmbeddingRole.Query);
        var compressedCorpus = objective.CompressEach(_set.Corpus, dims, EmbeddingRole.Document);
        return dims
            .Select((dim, i) => (dim, _evaluator.Evaluate(compressedQueries[i].contiguous(), compressedCorpus[i].contiguous()).Mean(Measure.Ndcg10)))
            .ToArray();
    }

    public double Score(ITrainingObjective objective) => ScoreByDim(objective).Average(s => s.Ndcg);
}
