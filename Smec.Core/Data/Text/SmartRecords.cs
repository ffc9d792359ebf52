using System.Text;

namespace Smec.Core.Data.Text;

/// <summary>One SMART record: <c>.I id</c> then fields such as <c>.T</c>, <c>.W</c>, each a block of lines.</summary>
internal sealed record SmartRecord(string Id, int Line, IReadOnlyDictionary<char, string> Fields)
{
    public string Field(char name) => Fields.TryGetValue(name, out var v) ? v : "";
}

/// <summary>
/// Reader for the SMART format of the classic collections. A field's lines are joined with
/// single spaces and trimmed; CR line ends are tolerated (cran.all.1400 mixes them in).
/// </summary>
internal static class SmartRecords
{
    public static IEnumerable<SmartRecord> Read(string path)
    {
        string? id = null;
        var idLine = 0;
        var fields = new Dictionary<char, StringBuilder>();
        char? current = null;
        var lineNumber = 0;
        foreach (var rawLine in File.ReadLines(path))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.StartsWith(".I ", StringComparison.Ordinal) || line == ".I")
            {
                if (id != null) yield return Finish(id, idLine, fields);
                id = line.Length > 3 ? line[3..].Trim() : "";
                if (id.Length == 0) throw new DataVerificationException($"{path}:{lineNumber}: '.I' without a record id");
                idLine = lineNumber;
                fields = new Dictionary<char, StringBuilder>();
                current = null;
                continue;
            }
            var trimmed = line.TrimEnd();
            if (trimmed.Length == 2 && trimmed[0] == '.' && char.IsAsciiLetterUpper(trimmed[1]))
            {
                if (id == null) throw new DataVerificationException($"{path}:{lineNumber}: field '{trimmed}' before the first '.I' record");
                current = trimmed[1];
                fields.TryAdd(current.Value, new StringBuilder());
                continue;
            }
            if (id == null)
            {
                if (trimmed.Length == 0) continue;
                throw new DataVerificationException($"{path}:{lineNumber}: text before the first '.I' record: '{line}'");
            }
            if (current == null)
            {
                if (trimmed.Length == 0) continue;
                throw new DataVerificationException($"{path}:{lineNumber}: text in record '{id}' outside any field: '{line}'");
            }
            var text = line.Trim();
            if (text.Length == 0) continue;
            var sb = fields[current.Value];
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(text);
        }
        if (id != null) yield return Finish(id, idLine, fields);
    }

    private static SmartRecord Finish(string id, int line, Dictionary<char, StringBuilder> fields) =>
        new(id, line, fields.ToDictionary(f => f.Key, f => f.Value.ToString()));
}
