using System.Text;

namespace Smec.Core.Storage;

/// <summary>
/// The one way the project writes a file: into a temporary file in the same folder, flushed to
/// disk, then renamed over the target. A reader sees the old file or the new one, never a part;
/// an interrupted write leaves the old file as it was (and no temporary file behind on errors).
/// </summary>
public static class AtomicFile
{
    /// <summary>A fresh temporary path beside <paramref name="path"/> (its folder is created).</summary>
    public static string TempPathFor(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }

    /// <summary>Write through <paramref name="write"/> into a temporary file, then rename it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var tmp = TempPathFor(full);
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    public static void WriteBinary(string path, Action<BinaryWriter> write) =>
        Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            write(writer);
            writer.Flush();
        });

    public static void WriteText(string path, Action<TextWriter> write) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
            write(writer);
            writer.Flush();
        });

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    public static void WriteAllText(string path, string text) => WriteText(path, w => w.Write(text));

    /// <summary>Each line followed by a newline, as <see cref="File.WriteAllLines(string, IEnumerable{string})"/>.</summary>
    public static void WriteAllLines(string path, IEnumerable<string> lines) =>
        WriteText(path, w => { foreach (var line in lines) w.Write(line + "\n"); });
}
