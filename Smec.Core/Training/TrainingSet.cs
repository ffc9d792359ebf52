using Smec.Core.Data;
using Smec.Core.Methods;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>A judged (query, relevant doc) pair from the train qrels, by matrix row.</summary>
public readonly record struct JudgedPair(int QueryRow, int DocRow, int Relevance);

/// <summary>
/// The training data as the loop uses it: corpus and query embeddings as tensors (kept for the
/// whole run, outside any dispose scope), the train pairs (validation queries removed), the hard
/// negatives mined under the frozen encoder, and the validation queries. Built once per Fit.
/// </summary>
public sealed class TrainingSet : IDisposable
{
    public TrainingData Data { get; }
    /// <summary>[Nc, D] corpus embeddings (float32, as stored: the frozen encoder's output).</summary>
    public Tensor Corpus { get; }
    /// <summary>[Nq, D] query embeddings.</summary>
    public Tensor Queries { get; }
    public IReadOnlyList<JudgedPair> Pairs { get; }
    /// <summary>Per query row: up to HardNegativePool top-ranked corpus rows that are not judged relevant.</summary>
    public IReadOnlyDictionary<int, int[]> HardNegatives { get; }
    /// <summary>Query rows of the validation queries (those with at least one judged-relevant doc in the corpus).</summary>
    public int[] ValidationQueryRows { get; }
    public Dictionary<string, int> CorpusRowById { get; }
    public Dictionary<string, int> QueryRowById { get; }
    public int Dim => Data.Corpus.Dim;

    private readonly Dictionary<int, Dictionary<int, int>> _relevanceByQueryRow;
    private readonly Dictionary<int, List<int>> _queriesByDocRow = new();

    public TrainingSet(TrainingData data, int hardNegativePool)
    {
        if (data.Corpus.Dim != data.Queries.Dim)
            throw new ArgumentException($"corpus has {data.Corpus.Dim} dims but queries have {data.Queries.Dim}");
        Data = data;
        CorpusRowById = data.Corpus.IndexById();
        QueryRowById = data.Queries.IndexById();
        var validation = new HashSet<string>(data.Validation.QueryIds, StringComparer.Ordinal);

        _relevanceByQueryRow = new();
        var pairs = new List<JudgedPair>();
        // Sorted ids: the pair order (and so every batch) must not depend on dictionary order.
        foreach (var queryId in data.Train.QueryIds.OrderBy(q => q, StringComparer.Ordinal))
        {
            if (validation.Contains(queryId)) continue; // validation queries never train
            if (!QueryRowById.TryGetValue(queryId, out var queryRow))
                throw new InvalidDataException($"train qrels name query '{queryId}', which has no embedding");
            var judged = new Dictionary<int, int>();
            foreach (var (docId, rel) in data.Train.ForQuery(queryId).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!CorpusRowById.TryGetValue(docId, out var docRow))
                    throw new InvalidDataException($"train qrels for query '{queryId}' name doc '{docId}', which has no embedding");
                if (rel <= 0) continue;
                judged[docRow] = rel;
                pairs.Add(new JudgedPair(queryRow, docRow, rel));
            }
            if (judged.Count > 0) _relevanceByQueryRow[queryRow] = judged;
            foreach (var docRow in judged.Keys)
            {
                if (!_queriesByDocRow.TryGetValue(docRow, out var list)) _queriesByDocRow[docRow] = list = [];
                list.Add(queryRow);
            }
        }
        if (pairs.Count == 0) throw new ArgumentException("the train qrels have no relevant (query, doc) pair outside validation");
        Pairs = pairs;

        ValidationQueryRows = data.Validation.QueryIds
            .Where(q => data.Validation.ForQuery(q).Any(kv => kv.Value > 0))
            .OrderBy(q => q, StringComparer.Ordinal)
            .Select(q => QueryRowById.TryGetValue(q, out var r) ? r
                : throw new InvalidDataException($"validation qrels name query '{q}', which has no embedding"))
            .ToArray();

        // Long-lived tensors: created outside any scope on purpose, disposed with the set.
        Corpus = tensor(data.Corpus.Values, [data.Corpus.Rows, data.Corpus.Dim]);
        Queries = tensor(data.Queries.Values, [data.Queries.Rows, data.Queries.Dim]);
        HardNegatives = HardNegativeMiner.Mine(Corpus, Queries, _relevanceByQueryRow, hardNegativePool);
    }

    /// <summary>The graded train relevance of a doc for a query (0 when not judged relevant).</summary>
    public int Relevance(int queryRow, int docRow) =>
        _relevanceByQueryRow.TryGetValue(queryRow, out var docs) && docs.TryGetValue(docRow, out var rel) ? rel : 0;

    /// <summary>Doc rows judged relevant to a query row in the train qrels.</summary>
    public IEnumerable<int> RelevantDocs(int queryRow) =>
        _relevanceByQueryRow.TryGetValue(queryRow, out var docs) ? docs.Keys : [];

    /// <summary>Query rows (training queries only) that judged a doc row relevant.</summary>
    public IReadOnlyList<int> RelevantQueries(int docRow) =>
        _queriesByDocRow.TryGetValue(docRow, out var list) ? list : [];

    public void Dispose()
    {
        Corpus.Dispose();
        Queries.Dispose();
    }
}
