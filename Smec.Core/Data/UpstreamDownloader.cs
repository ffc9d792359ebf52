using System.Formats.Tar;
using System.IO.Compression;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data;

/// <summary>
/// Downloads a dataset from the URLs in its manifest into a temporary folder, unpacks it
/// (zip, tar.gz, or a plain file), verifies the pinned checksums, and only then moves it into
/// place, so a failed or interrupted download never leaves a half copy behind. Counts are
/// verified by the loader on first use (a downloaded copy that fails them is removed).
/// </summary>
public static class UpstreamDownloader
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30) })
    {
        Timeout = TimeSpan.FromHours(2),
    };

    public static void Fetch(DatasetManifest manifest, string targetFolder)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(targetFolder))!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(targetFolder)}.{Environment.ProcessId}.partial");
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        try
        {
            foreach (var download in manifest.Source.Downloads)
            {
                var tmpFile = Path.Combine(staging, ".download");
                Console.Error.WriteLine($"smec: downloading {download.Url} for dataset '{manifest.Id}'");
                DownloadTo(download.Url, tmpFile);
                Unpack(download, tmpFile, staging);
                File.Delete(tmpFile);
            }
            FileChecksums.Verify(manifest, staging);
            if (Directory.Exists(targetFolder)) Directory.Delete(targetFolder, true);
            Directory.Move(staging, targetFolder);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, true);
        }
    }

    private static void DownloadTo(string url, string path)
    {
        using var response = Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"GET {url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        using var body = response.Content.ReadAsStream();
        using var file = File.Create(path);
        body.CopyTo(file);
    }

    private static void Unpack(DownloadSpec download, string archivePath, string folder)
    {
        switch (download.Archive)
        {
            case "file":
                File.Copy(archivePath, Path.Combine(folder, download.Target!), overwrite: true);
                break;
            case "zip":
                using (var zip = ZipFile.OpenRead(archivePath))
                    foreach (var entry in zip.Entries)
                    {
                        if (entry.FullName.EndsWith('/')) continue;
                        var dest = Destination(folder, entry.FullName, download.StripPrefix);
                        if (dest == null) continue;
                        entry.ExtractToFile(dest, overwrite: true);
                    }
                break;
            case "tar.gz":
                using (var gz = new GZipStream(File.OpenRead(archivePath), CompressionMode.Decompress))
                using (var tar = new TarReader(gz))
                    while (tar.GetNextEntry() is { } entry)
                    {
                        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                        var dest = Destination(folder, entry.Name, download.StripPrefix);
                        if (dest == null) continue;
                        entry.ExtractToFile(dest, overwrite: true);
                    }
                break;
            default:
                throw new InvalidDataException($"unknown archive kind '{download.Archive}'");
        }
    }

    /// <summary>Where an archive member goes, or null when it lies outside the strip prefix.</summary>
    private static string? Destination(string folder, string member, string? stripPrefix)
    {
        var name = member.Replace('\\', '/').TrimStart('.', '/');
        if (!string.IsNullOrEmpty(stripPrefix))
        {
            if (!name.StartsWith(stripPrefix, StringComparison.Ordinal)) return null;
            name = name[stripPrefix.Length..];
        }
        var dest = Path.GetFullPath(Path.Combine(folder, name));
        if (!dest.StartsWith(Path.GetFullPath(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidDataException($"archive member '{member}' would unpack outside {folder}");
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        return dest;
    }
}
