using System.Globalization;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data.Text;

/// <summary>
/// The classic SMART collections, each with its known quirks:
/// <list type="bullet">
/// <item>Cranfield: cran.qry numbers queries 001..365 with gaps, while cranqrel numbers them
/// 1..225 in file order, so a query's id is its 1-based position in cran.qry. cranqrel rows are
/// <c>qid docid code</c>; codes go through the manifest's relevance_map.</item>
/// <item>CACM: query.text ends with an empty record <c>.I 0</c> (skipped); qrels.text rows are
/// <c>qid docid 0 0</c> with zero-padded query ids, every row a relevant pair; 52 of the 64
/// queries are judged. A document is its title (.T) and abstract (.W, often absent).</item>
/// </list>
/// </summary>
public static class SmartLoader
{
    public static TextRetrievalDataset LoadCranfield(DatasetManifest manifest, string folder)
    {
        var corpus = ReadCorpus(Path.Combine(folder, manifest.FileWithRole("corpus").Path));
        var queriesPath = Path.Combine(folder, manifest.FileWithRole("queries").Path);
        var queries = SmartRecords.Read(queriesPath)
            .Select((r, index) => new TextQuery((index + 1).ToString(CultureInfo.InvariantCulture), Require(r, 'W', queriesPath)))
            .ToList();
        return WithQrels(manifest, folder, corpus, queries, queriesPath, expectedFields: 3);
    }

    public static TextRetrievalDataset LoadCacm(DatasetManifest manifest, string folder)
    {
        var corpus = ReadCorpus(Path.Combine(folder, manifest.FileWithRole("corpus").Path));
        var queriesPath = Path.Combine(folder, manifest.FileWithRole("queries").Path);
        var queries = SmartRecords.Read(queriesPath)
            .Where(r => r.Fields.Count > 0) // the trailing empty `.I 0` record
            .Select(r => new TextQuery(NormaliseNumber(r.Id, queriesPath, r.Line), Require(r, 'W', queriesPath)))
            .ToList();
        return WithQrels(manifest, folder, corpus, queries, queriesPath, expectedFields: 4);
    }

    private static List<TextDocument> ReadCorpus(string path) =>
        SmartRecords.Read(path)
            .Select(r => new TextDocument(NormaliseNumber(r.Id, path, r.Line), r.Field('T'), r.Field('W')))
            .ToList();

    private static string Require(SmartRecord record, char field, string path)
    {
        var text = record.Field(field);
        return text.Length > 0 ? text
            : throw new DataVerificationException($"{path}:{record.Line}: record '{record.Id}' has no .{field} text");
    }

    /// <summary>"001" and "1" name the same query or document.</summary>
    private static string NormaliseNumber(string raw, string path, int line) =>
        int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n.ToString(CultureInfo.InvariantCulture)
            : throw new DataVerificationException($"{path}:{line}: id '{raw}' is not a number");

    private static TextRetrievalDataset WithQrels(DatasetManifest manifest, string folder,
        List<TextDocument> corpus, List<TextQuery> queries, string queriesPath, int expectedFields)
    {
        var corpusPath = Path.Combine(folder, manifest.FileWithRole("corpus").Path);
        var docIds = BeirLoader.UniqueIds(corpusPath, corpus.Select(d => d.Id));
        var queryIds = BeirLoader.UniqueIds(queriesPath, queries.Select(q => q.Id));
        var qrelsFile = manifest.FileWithRole("qrels");
        var path = Path.Combine(folder, qrelsFile.Path);
        var builder = new QrelsBuilder(path, docIds, queryIds);
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            if (parts.Length != expectedFields)
                throw new DataVerificationException(
                    $"{path}:{lineNumber}: expected {expectedFields} whitespace-separated fields " +
                    (expectedFields == 3 ? "'qid docid code'" : "'qid docid 0 0'") + $", got {parts.Length}: '{line}'");
            var queryId = NormaliseNumber(parts[0], path, lineNumber);
            var docId = NormaliseNumber(parts[1], path, lineNumber);
            var relevance = expectedFields == 3 ? Relevance.Parse(parts[2], manifest.RelevanceMap, path, lineNumber) : 1;
            builder.Add(lineNumber, queryId, docId, relevance);
        }
        var split = qrelsFile.Split!;
        return new TextRetrievalDataset(manifest.Id, corpus, queries,
            new Dictionary<string, Qrels> { [split] = builder.Build() },
            new Dictionary<string, int> { [split] = builder.Rows });
    }
}
