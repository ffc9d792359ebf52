namespace Smec.Core.Storage;

/// <summary>Writes that either happen whole or not at all: a temporary file in the same folder, then a rename.</summary>
public static class AtomicFile
{
    public static string TempPathFor(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }

    public static void WriteAllText(string path, string text)
    {
        var tmp = TempPathFor(path);
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    public static void WriteAllLines(string path, IEnumerable<string> lines)
    {
        var tmp = TempPathFor(path);
        File.WriteAllLines(tmp, lines);
        File.Move(tmp, path, overwrite: true);
    }
}
