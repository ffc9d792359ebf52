using System.Formats.Tar;
using System.IO.Compression;

namespace Smec.Core.Data;

/// <summary>Unpacks a zip, a tar.gz or a plain file into a folder; no member may land outside it.</summary>
public static class ArchiveUnpacker
{
    /// <summary>
    /// <paramref name="kind"/>: zip, tar.gz or file (copied to <paramref name="target"/>). Members
    /// outside <paramref name="stripPrefix"/> are skipped; the prefix is removed from the rest.
    /// Returns the relative paths written.
    /// </summary>
    public static List<string> Unpack(string kind, string archivePath, string folder, string? stripPrefix = null, string? target = null)
    {
        var written = new List<string>();
        switch (kind)
        {
            case "file":
                File.Copy(archivePath, Destination(folder, target!, null)!, overwrite: true);
                written.Add(target!);
                break;
            case "zip":
                using (var zip = ZipFile.OpenRead(archivePath))
                    foreach (var entry in zip.Entries)
                    {
                        if (entry.FullName.EndsWith('/')) continue;
                        var dest = Destination(folder, entry.FullName, stripPrefix);
                        if (dest == null) continue;
                        entry.ExtractToFile(dest, overwrite: true);
                        written.Add(Path.GetRelativePath(folder, dest));
                    }
                break;
            case "tar.gz":
                using (var gz = new GZipStream(File.OpenRead(archivePath), CompressionMode.Decompress))
                using (var tar = new TarReader(gz))
                    while (tar.GetNextEntry() is { } entry)
                    {
                        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                        var dest = Destination(folder, entry.Name, stripPrefix);
                        if (dest == null) continue;
                        entry.ExtractToFile(dest, overwrite: true);
                        written.Add(Path.GetRelativePath(folder, dest));
                    }
                break;
            default:
                throw new InvalidDataException($"unknown archive kind '{kind}' (zip, tar.gz or file)");
        }
        return written;
    }

    /// <summary>Where an archive member goes, or null when it lies outside the strip prefix.</summary>
    private static string? Destination(string folder, string member, string? stripPrefix)
    {
        var name = member.Replace('\\', '/');
        while (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
        name = name.TrimStart('/');
        if (!string.IsNullOrEmpty(stripPrefix))
        {
            if (!name.StartsWith(stripPrefix, StringComparison.Ordinal)) return null;
            name = name[stripPrefix.Length..];
        }
        if (name.Length == 0) return null;
        var dest = Path.GetFullPath(Path.Combine(folder, name));
        if (!dest.StartsWith(Path.GetFullPath(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidDataException($"archive member '{member}' would unpack outside {folder}");
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        return dest;
    }
}
