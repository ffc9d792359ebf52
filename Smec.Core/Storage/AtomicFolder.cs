using Smec.Core.Runtime;

namespace Smec.Core.Storage;

/// <summary>
/// The one way the project writes a folder (a download, the embedded data, an image subset, a saved
/// model): its files are written into a staging sibling <c>&lt;name&gt;.saving-&lt;pid&gt;-&lt;id&gt;</c>,
/// which is then renamed into place. A reader sees the old folder or the new one, never a part. An
/// existing folder is first moved aside (<c>&lt;name&gt;.old-&lt;pid&gt;-&lt;id&gt;</c>) and deleted once the
/// new one is in place. A failed write (a full disk) removes its staging folder; what a killed
/// process left is cleaned up by the next write of the same folder (a moved-aside old folder is
/// restored when no new one replaced it). Files are written with <see cref="AtomicFile"/>.
/// </summary>
public static class AtomicFolder
{
    /// <summary>
    /// Fill a fresh staging folder through <paramref name="fill"/>, then rename it to <paramref name="folder"/>.
    /// With <paramref name="replaceExisting"/> false, a folder that exists by then (another process
    /// finished first) is kept and the staged copy dropped.
    /// </summary>
    public static void Write(string folder, Action<string> fill, bool replaceExisting = true)
    {
        var full = Path.GetFullPath(folder);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        RecoverLeftovers(full);
        var staging = Sibling(full, "saving");
        try
        {
            Directory.CreateDirectory(staging);
            fill(staging);
            if (!Directory.Exists(full)) Directory.Move(staging, full);
            else if (replaceExisting)
            {
                var old = Sibling(full, "old");
                Directory.Move(full, old);
                Directory.Move(staging, full);
                Directory.Delete(old, recursive: true);
            }
        }
        catch (IOException) when (!replaceExisting && Directory.Exists(full)) { } // another process moved its copy in first
        finally
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the first error is the one to report
        }
    }

    private static string Sibling(string full, string kind) => $"{full}.{kind}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Staging and moved-aside folders of <paramref name="full"/> whose process is dead.</summary>
    private static void RecoverLeftovers(string full)
    {
        var parent = Path.GetDirectoryName(full)!;
        var name = Path.GetFileName(full);
        foreach (var leftover in Directory.EnumerateDirectories(parent, name + ".*-*").ToList())
        {
            var parts = Path.GetFileName(leftover)[(name.Length + 1)..].Split('-');
            if (parts.Length != 3 || parts[0] is not ("saving" or "old") || !int.TryParse(parts[1], out var pid) || ProcessLiveness.IsAlive(pid))
                continue;
            if (parts[0] == "old" && !Directory.Exists(full)) Directory.Move(leftover, full); // killed between the two renames
            else Directory.Delete(leftover, recursive: true);
        }
    }
}
