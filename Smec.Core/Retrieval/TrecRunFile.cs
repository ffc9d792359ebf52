using System.Globalization;
using Smec.Core.Storage;
using Smec.Core.Metrics;

namespace Smec.Core.Retrieval;

/// <summary>TREC run files: `qid Q0 docid rank score tag`, whitespace-separated, one document per line.</summary>
public static class TrecRunFile
{
    /// <summary>Read a run; errors name the file and line. A document listed twice for a query is an error (as in trec_eval).</summary>
    public static Run Read(string path)
    {
        if (Directory.Exists(path))
            throw new InvalidDataException($"{path}: is a folder; expected a TREC run file");
        var byQuery = new Dictionary<string, List<ScoredDoc>>(StringComparer.Ordinal);
        var seen = new HashSet<(string, string)>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 6)
                throw new InvalidDataException($"{path}:{lineNumber}: expected 6 fields 'qid Q0 docid rank score tag', got {parts.Length}: '{line}'");
            var (queryId, docId) = (parts[0], parts[2]);
            // trec_eval parses with atof (double) and stores a float: do the same so ties agree.
            if (!double.TryParse(parts[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var score))
                throw new InvalidDataException($"{path}:{lineNumber}: score '{parts[4]}' is not a number");
            if (!float.IsFinite((float)score))
                throw new InvalidDataException($"{path}:{lineNumber}: score '{parts[4]}' is not finite; expected a finite number");
            if (!seen.Add((queryId, docId)))
                throw new InvalidDataException($"{path}:{lineNumber}: document '{docId}' appears twice for query '{queryId}'");
            if (!byQuery.TryGetValue(queryId, out var docs)) byQuery[queryId] = docs = [];
            docs.Add(new ScoredDoc(docId, (float)score));
        }
        return new Run(byQuery.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal));
    }

    /// <summary>
    /// Write atomically (temporary file, then rename), queries in ordinal order, documents in
    /// trec_eval rank order. Scores are written with 9 significant digits so they read back as
    /// the same float32 and trec_eval sees the same ties.
    /// </summary>
    public static void Write(string path, Run run, string tag = "smec")
    {
        AtomicFile.WriteText(path, writer =>
        {
            foreach (var queryId in run.QueryIds.Order(StringComparer.Ordinal))
            {
                var docs = run.ForQuery(queryId).ToArray();
                Array.Sort(docs, static (a, b) => TrecOrder.Compare(a.Score, a.DocId, b.Score, b.DocId));
                for (var i = 0; i < docs.Length; i++)
                    writer.Write($"{queryId} Q0 {docs[i].DocId} {i + 1} {docs[i].Score.ToString("G9", CultureInfo.InvariantCulture)} {tag}\n");
            }
        });
    }
}
