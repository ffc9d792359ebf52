namespace Smec.Core.Data.Text;

/// <summary>
/// Collects qrels rows while checking them against the loaded corpus and queries, so that an
/// unknown document or query, or a repeated pair, is reported with its file and line.
/// </summary>
internal sealed class QrelsBuilder(string path, IReadOnlySet<string> docIds, IReadOnlySet<string> queryIds)
{
    private readonly Dictionary<string, Dictionary<string, int>> _byQuery = new(StringComparer.Ordinal);
    public int Rows { get; private set; }

    public void Add(int line, string queryId, string docId, int relevance)
    {
        if (!queryIds.Contains(queryId))
            throw new DataVerificationException($"{path}:{line}: query '{queryId}' is not in the queries file");
        if (!docIds.Contains(docId))
            throw new DataVerificationException($"{path}:{line}: document '{docId}' is not in the corpus");
        if (!_byQuery.TryGetValue(queryId, out var docs)) _byQuery[queryId] = docs = new(StringComparer.Ordinal);
        if (!docs.TryAdd(docId, relevance))
            throw new DataVerificationException($"{path}:{line}: query '{queryId}' judges document '{docId}' a second time");
        Rows++;
    }

    public Qrels Build() => new(_byQuery);
}
