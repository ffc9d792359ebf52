namespace Smec.Core.Data;

/// <summary>
/// Relevance judgements: query id -> document id -> graded relevance (the qrels value; values
/// &lt;= 0 mean judged not relevant). Immutable once built.
/// </summary>
public sealed class Qrels
{
    private readonly Dictionary<string, Dictionary<string, int>> _byQuery;

    public Qrels(Dictionary<string, Dictionary<string, int>> byQuery) => _byQuery = byQuery;

    public IReadOnlyCollection<string> QueryIds => _byQuery.Keys;
    public int QueryCount => _byQuery.Count;
    public int JudgementCount => _byQuery.Values.Sum(d => d.Count);

    public IReadOnlyDictionary<string, int> ForQuery(string queryId) =>
        _byQuery.TryGetValue(queryId, out var docs) ? docs : EmptyJudgements;

    public bool HasQuery(string queryId) => _byQuery.ContainsKey(queryId);

    /// <summary>A Qrels restricted to the given queries (used to carve validation from train).</summary>
    public Qrels Restrict(IEnumerable<string> queryIds)
    {
        var subset = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        foreach (var q in queryIds)
            if (_byQuery.TryGetValue(q, out var docs)) subset[q] = docs;
        return new Qrels(subset);
    }

    private static readonly IReadOnlyDictionary<string, int> EmptyJudgements = new Dictionary<string, int>();

    /// <summary>
    /// Read TREC qrels (`qid iter docid rel`) or BEIR qrels (`query-id corpus-id score`, with a
    /// header line), whitespace- or tab-separated. Errors name the file and line; a document judged
    /// twice for a query with different values is an error naming both lines (a repeat is harmless).
    /// </summary>
    public static Qrels Read(string path)
    {
        if (Directory.Exists(path))
            throw new InvalidDataException($"{path}: is a folder; expected a qrels file (e.g. {Path.Combine(path, "test.tsv")})");
        var byQuery = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        var judgedOn = new Dictionary<(string, string), int>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (lineNumber == 1 && parts.Length == 3 && !int.TryParse(parts[2], out _)) continue; // BEIR header
            string queryId, docId, relevanceText;
            switch (parts.Length)
            {
                case 4: (queryId, docId, relevanceText) = (parts[0], parts[2], parts[3]); break;
                case 3: (queryId, docId, relevanceText) = (parts[0], parts[1], parts[2]); break;
                default:
                    throw new InvalidDataException(
                        $"{path}:{lineNumber}: expected 'qid 0 docid rel' (TREC) or 'qid docid rel' (BEIR), got {parts.Length} fields: '{line}'");
            }
            if (!int.TryParse(relevanceText, out var relevance))
                throw new InvalidDataException($"{path}:{lineNumber}: relevance '{relevanceText}' is not an integer");
            if (!byQuery.TryGetValue(queryId, out var docs)) byQuery[queryId] = docs = new(StringComparer.Ordinal);
            if (docs.TryGetValue(docId, out var earlier) && earlier != relevance)
                throw new InvalidDataException(
                    $"{path}:{lineNumber}: query '{queryId}' document '{docId}' judged {relevance}, but line {judgedOn[(queryId, docId)]} judged it {earlier}; expected one value per query and document");
            judgedOn.TryAdd((queryId, docId), lineNumber);
            docs[docId] = relevance;
        }
        return new Qrels(byQuery);
    }
}
