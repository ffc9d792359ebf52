namespace Smec.Core.Methods;

/// <summary>
/// What differs between two members' settings lists (their options' Describe()), in words: the reason a
/// fit of many (<see cref="IEnsembleFit"/>) gives when its members were built with other options, naming
/// each option that differs and both values.
/// </summary>
internal static class SettingsDifferences
{
    /// <summary>The keys whose values differ between two settings lists, with both values (null: none).</summary>
    public static string? Between(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
    {
        var keys = a.Keys.Union(b.Keys).Where(key => a.GetValueOrDefault(key) != b.GetValueOrDefault(key)).Order(StringComparer.Ordinal).ToArray();
        return keys.Length == 0 ? null : string.Join(", ", keys.Select(key => $"{key} {a.GetValueOrDefault(key, "-")} vs {b.GetValueOrDefault(key, "-")}"));
    }
}
