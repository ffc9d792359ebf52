namespace Smec.Core.Data;

/// <summary>Where a data root was found, and by which rule.</summary>
public sealed record ResolvedDataRoot(string Path, string Rule);

/// <summary>
/// Resolves the local data mirror: an explicit path, then SMEC_DATA_DIR, then ../shared/data
/// relative to the repository root. (Download into the user cache is the last resort and is
/// handled per dataset by its manifest.)
/// </summary>
public static class DataRoot
{
    public const string Variable = "SMEC_DATA_DIR";
    /// <summary>Set to 1 to ignore the mirror ../shared/data: see a checkout as a user elsewhere has it.</summary>
    public const string NoMirrorVariable = "SMEC_NO_MIRROR";

    /// <summary>Every candidate in resolution order, with the rule that produced it.</summary>
    public static IReadOnlyList<ResolvedDataRoot> Candidates(string? explicitPath = null)
    {
        var list = new List<ResolvedDataRoot>();
        if (!string.IsNullOrWhiteSpace(explicitPath))
            list.Add(new(System.IO.Path.GetFullPath(explicitPath), "explicit path"));
        var env = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(env))
            list.Add(new(System.IO.Path.GetFullPath(env), $"${Variable}"));
        var root = RepoPaths.TryFindRoot();
        if (root != null && Environment.GetEnvironmentVariable(NoMirrorVariable) != "1")
            list.Add(new(System.IO.Path.GetFullPath(System.IO.Path.Combine(root, "..", "shared", "data")), "mirror ../shared/data"));
        return list;
    }

    /// <summary>The first candidate that exists, or null.</summary>
    public static ResolvedDataRoot? TryResolve(string? explicitPath = null) =>
        Candidates(explicitPath).FirstOrDefault(c => Directory.Exists(c.Path));

    /// <summary>The user cache for downloads and embeddings (SMEC_CACHE_DIR, else XDG cache, else ~/.cache/smec).</summary>
    public static string UserCache()
    {
        var explicitCache = Environment.GetEnvironmentVariable("SMEC_CACHE_DIR");
        if (!string.IsNullOrWhiteSpace(explicitCache)) return System.IO.Path.GetFullPath(explicitCache);
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrWhiteSpace(xdg)
            ? xdg
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return System.IO.Path.Combine(baseDir, "smec");
    }
}
