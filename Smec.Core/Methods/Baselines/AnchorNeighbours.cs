using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// The anchors of Matryoshka-Adaptor's unsupervised losses and their k neighbours, all frozen
/// embeddings: the batch's random corpus docs with their nearest corpus docs, optionally plus
/// unlabelled train queries with their top-k docs under the frozen encoder. Neighbour tables are
/// built once per Fit and live until disposed. Every embedding it hands out is already in the
/// adaptor's input space (<see cref="MappedEmbeddings"/>), the batch's queries and docs included.
/// </summary>
internal sealed class AnchorNeighbours : IDisposable
{
    private readonly Tensor _docNeighbours;     // [Nc, k] corpus rows
    private readonly Tensor _queryRows;         // [Nq'] train query rows (validation excluded)
    private readonly Tensor _queryNeighbours;   // [Nq', k] corpus rows

    private readonly MappedEmbeddings _corpus;
    private readonly MappedEmbeddings _queries;

    public AnchorNeighbours(TrainingSet set, int k, ResidualAdaptor adaptor)
    {
        _corpus = new MappedEmbeddings(adaptor, set.Corpus);
        _queries = new MappedEmbeddings(adaptor, set.Queries);
        _docNeighbours = CorpusNeighbours.Find(set.Corpus, k);
        // Train queries only: TrainingSet.Pairs already leaves the validation queries out.
        var queryRows = set.Pairs.Select(p => (long)p.QueryRow).Distinct().Order().ToArray();
        _queryRows = tensor(queryRows);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var queries = nn.functional.normalize(set.Queries.index_select(0, _queryRows), p: 2.0, dim: 1);
        var docs = nn.functional.normalize(set.Corpus, p: 2.0, dim: 1);
        _queryNeighbours = queries.matmul(docs.t()).topk(k, dim: 1, largest: true, sorted: true).indexes.MoveToOuterDisposeScope();
    }

    /// <summary>The batch's queries and candidate docs, mapped.</summary>
    public (Tensor Queries, Tensor Docs) Batch(TrainingBatch batch) => (_queries.SelectRows(batch.QueryRows), _corpus.SelectRows(batch.DocRows));

    /// <summary>Anchors [R + Q, D] and their neighbours [R + Q, k, D] for a batch, mapped; Q query anchors drawn with the step's generator.</summary>
    public (Tensor Anchors, Tensor Neighbours) Anchors(TrainingBatch batch, int queryAnchors, Generator generator)
    {
        var docRows = tensor(batch.RandomDocRows.Select(r => (long)r).ToArray());
        var anchors = _corpus.Select(docRows);
        var neighbourRows = _docNeighbours.index_select(0, docRows);
        if (queryAnchors > 0)
        {
            var count = _queryRows.shape[0];
            var picks = randperm(count, generator: generator).narrow(0, 0, Math.Min(queryAnchors, count));
            anchors = cat([anchors, _queries.Select(_queryRows.index_select(0, picks))], 0);
            neighbourRows = cat([neighbourRows, _queryNeighbours.index_select(0, picks)], 0);
        }
        var neighbours = _corpus.Select(neighbourRows.flatten())
            .reshape(anchors.shape[0], neighbourRows.shape[1], anchors.shape[1]);
        return (anchors, neighbours);
    }

    public void Dispose()
    {
        _docNeighbours.Dispose();
        _queryRows.Dispose();
        _queryNeighbours.Dispose();
        _corpus.Dispose();
        _queries.Dispose();
    }
}
