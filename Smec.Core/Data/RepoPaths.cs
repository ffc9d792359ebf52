namespace Smec.Core.Data;

/// <summary>Locates the repository root (the folder holding Smec.sln) from the program or the working directory.</summary>
public static class RepoPaths
{
    public const string SolutionFile = "Smec.sln";

    /// <summary>The repository root, or null when the program runs outside a checkout.</summary>
    public static string? TryFindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, SolutionFile))) return dir.FullName;
        }
        return null;
    }
}
