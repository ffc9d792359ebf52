namespace Smec.Core.Data.Text;

/// <summary>Parses a raw qrels value and applies a manifest's relevance map.</summary>
internal static class Relevance
{
    public static int Parse(string raw, IReadOnlyDictionary<string, int>? map, string path, int line)
    {
        if (!int.TryParse(raw.Trim(), out var value))
            throw new DataVerificationException($"{path}:{line}: relevance '{raw}' is not an integer");
        if (map == null) return value;
        return map.TryGetValue(value.ToString(System.Globalization.CultureInfo.InvariantCulture), out var mapped) ? mapped
            : throw new DataVerificationException($"{path}:{line}: relevance {value} is not in the manifest's relevance_map ({string.Join(", ", map.Keys)})");
    }
}
