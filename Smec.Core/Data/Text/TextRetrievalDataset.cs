namespace Smec.Core.Data.Text;

/// <summary>A document of a retrieval corpus. <see cref="Title"/> may be empty.</summary>
public sealed record TextDocument(string Id, string Title, string Text)
{
    /// <summary>The text an encoder sees: title, separator, text (the BEIR/sentence-transformers convention).</summary>
    public string Joined(string separator) => Title.Length == 0 ? Text : Title + separator + Text;
}

public sealed record TextQuery(string Id, string Text);

/// <summary>
/// The one shape every text-retrieval dataset takes once loaded (BEIR, Cranfield, CACM alike):
/// the corpus and queries in file order, and relevance judgements per split.
/// </summary>
public sealed class TextRetrievalDataset(
    string id,
    IReadOnlyList<TextDocument> corpus,
    IReadOnlyList<TextQuery> queries,
    IReadOnlyDictionary<string, Qrels> qrelsBySplit,
    IReadOnlyDictionary<string, int> qrelsRowsBySplit)
{
    public string Id { get; } = id;
    public IReadOnlyList<TextDocument> Corpus { get; } = corpus;
    public IReadOnlyList<TextQuery> Queries { get; } = queries;
    public IReadOnlyDictionary<string, Qrels> QrelsBySplit { get; } = qrelsBySplit;
    /// <summary>Rows read per qrels file (equal to the judgement count: duplicate rows are rejected).</summary>
    public IReadOnlyDictionary<string, int> QrelsRowsBySplit { get; } = qrelsRowsBySplit;

    public Qrels Qrels(string split) =>
        QrelsBySplit.TryGetValue(split, out var q) ? q
        : throw new KeyNotFoundException($"dataset '{Id}' has no split '{split}' (splits: {string.Join(", ", QrelsBySplit.Keys)})");

    /// <summary>The queries judged in a split, in file order.</summary>
    public IReadOnlyList<TextQuery> QueriesOf(string split)
    {
        var qrels = Qrels(split);
        return Queries.Where(q => qrels.HasQuery(q.Id)).ToList();
    }
}
