namespace Smec.Core.Retrieval;

/// <summary>A retrieved document and its score (float32, as trec_eval compares scores).</summary>
public readonly record struct ScoredDoc(string DocId, float Score);

/// <summary>
/// A retrieval run: for each query, its retrieved documents with scores. The order inside a query
/// does not matter for evaluation (trec_eval re-ranks by score, ties by doc id descending); runs
/// produced by <see cref="ExactSearch"/> are stored already in that order.
/// </summary>
public sealed class Run
{
    private readonly Dictionary<string, ScoredDoc[]> _byQuery;

    public Run(Dictionary<string, ScoredDoc[]> byQuery) => _byQuery = byQuery;

    public IReadOnlyCollection<string> QueryIds => _byQuery.Keys;
    public int QueryCount => _byQuery.Count;

    public IReadOnlyList<ScoredDoc> ForQuery(string queryId) =>
        _byQuery.TryGetValue(queryId, out var docs) ? docs : [];

    public bool HasQuery(string queryId) => _byQuery.ContainsKey(queryId);
}
