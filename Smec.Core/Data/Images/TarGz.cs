using System.Formats.Tar;
using System.IO.Compression;

namespace Smec.Core.Data.Images;

/// <summary>Streams the regular files of a .tar.gz with System.Formats.Tar, in archive order.</summary>
internal static class TarGz
{
    /// <summary>Every regular file's name (no data is read beyond what the gzip stream must inflate).</summary>
    public static IEnumerable<string> Names(string path) => Entries(path, _ => false).Select(e => e.Name);

    /// <summary>Every regular file, with its bytes when <paramref name="read"/> says so (else null).</summary>
    public static IEnumerable<(string Name, byte[]? Data)> Entries(string path, Func<string, bool> read)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        while (true)
        {
            TarEntry? entry;
            try { entry = tar.GetNextEntry(); }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                throw new DataVerificationException($"{path}: not a readable tar.gz ({e.Message})", e);
            }
            if (entry == null) yield break;
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            byte[]? data = null;
            if (read(entry.Name) && entry.DataStream != null)
            {
                using var buffer = new MemoryStream((int)entry.Length);
                entry.DataStream.CopyTo(buffer);
                data = buffer.ToArray();
            }
            yield return (entry.Name, data);
        }
    }
}
