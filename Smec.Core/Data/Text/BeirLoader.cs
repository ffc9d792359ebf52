using System.Text.Json;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data.Text;

/// <summary>
/// BEIR layout: corpus.jsonl (<c>_id</c>, <c>title</c>, <c>text</c>), queries.jsonl (<c>_id</c>,
/// <c>text</c>) and qrels/&lt;split&gt;.tsv (header <c>query-id corpus-id score</c>). Streams the
/// files line by line; every problem names the file and line.
/// </summary>
public static class BeirLoader
{
    public static TextRetrievalDataset Load(DatasetManifest manifest, string folder)
    {
        var corpusPath = Path.Combine(folder, manifest.FileWithRole("corpus").Path);
        var corpus = ReadJsonl(corpusPath, (id, title, text) => new TextDocument(id, title, text), needTitle: true);
        if (corpus.Count == 0)
            throw new DataVerificationException($"{corpusPath}: no documents; expected one JSON object per line ({{\"_id\": ..., \"title\": ..., \"text\": ...}})");
        var queriesPath = Path.Combine(folder, manifest.FileWithRole("queries").Path);
        var queries = ReadJsonl(queriesPath, (id, _, text) => new TextQuery(id, text), needTitle: false);
        var docIds = UniqueIds(corpusPath, corpus.Select(d => d.Id));
        var queryIds = UniqueIds(queriesPath, queries.Select(q => q.Id));
        var qrels = new Dictionary<string, Qrels>();
        var rows = new Dictionary<string, int>();
        foreach (var file in manifest.FilesWithRole("qrels"))
        {
            var path = Path.Combine(folder, file.Path);
            var builder = ReadQrels(path, docIds, queryIds, manifest.RelevanceMap);
            qrels[file.Split!] = builder.Build();
            rows[file.Split!] = builder.Rows;
        }
        return new TextRetrievalDataset(manifest.Id, corpus, queries, qrels, rows);
    }

    private static List<T> ReadJsonl<T>(string path, Func<string, string, string, T> make, bool needTitle)
    {
        var items = new List<T>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument json;
            try { json = JsonDocument.Parse(line); }
            catch (JsonException e)
            {
                throw new DataVerificationException($"{path}:{lineNumber}: not a complete JSON object ({e.Message}); the line may be truncated", e);
            }
            using (json)
            {
                var root = json.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw new DataVerificationException($"{path}:{lineNumber}: expected a JSON object, got {root.ValueKind}");
                var id = Field(root, "_id", path, lineNumber, required: true)!;
                var text = Field(root, "text", path, lineNumber, required: true)!;
                var title = Field(root, "title", path, lineNumber, required: false) ?? "";
                // A query without words encodes to a vector of nothing and is evaluated as if it were a query.
                if (!needTitle && string.IsNullOrWhiteSpace(text))
                    throw new DataVerificationException($"{path}:{lineNumber}: query '{id}' has empty text; expected the words of the query");
                if (needTitle && !root.TryGetProperty("title", out _))
                    throw new DataVerificationException($"{path}:{lineNumber}: document '{id}' has no 'title' field (BEIR corpora always carry one, possibly empty)");
                items.Add(make(id, title, text));
            }
        }
        return items;
    }

    private static string? Field(JsonElement root, string name, string path, int line, bool required)
    {
        if (!root.TryGetProperty(name, out var value))
            return required ? throw new DataVerificationException($"{path}:{line}: missing field '{name}'") : null;
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(), // some BEIR ids are written as numbers
            _ => throw new DataVerificationException($"{path}:{line}: field '{name}' should be a string, got {value.ValueKind}"),
        };
    }

    internal static HashSet<string> UniqueIds(string path, IEnumerable<string> ids)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in ids)
            if (!set.Add(id)) throw new DataVerificationException($"{path}: id '{id}' occurs twice");
        return set;
    }

    private static QrelsBuilder ReadQrels(string path, IReadOnlySet<string> docIds, IReadOnlySet<string> queryIds,
        IReadOnlyDictionary<string, int>? relevanceMap)
    {
        var builder = new QrelsBuilder(path, docIds, queryIds);
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.Split('\t');
            if (lineNumber == 1 && parts[0] == "query-id") continue;
            // A collection may come with TREC qrels instead: 'query-id iteration corpus-id score', space-separated.
            var trec = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 && trec.Length == 4)
            {
                builder.Add(lineNumber, trec[0], trec[2], Relevance.Parse(trec[3], relevanceMap, path, lineNumber));
                continue;
            }
            if (parts.Length != 3)
                throw new DataVerificationException($"{path}:{lineNumber}: expected 3 tab-separated fields 'query-id corpus-id score' (BEIR) or 4 fields 'query-id iteration corpus-id score' (TREC), got {parts.Length}: '{line}'");
            builder.Add(lineNumber, parts[0], parts[1], Relevance.Parse(parts[2], relevanceMap, path, lineNumber));
        }
        return builder;
    }
}
