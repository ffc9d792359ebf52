using Smec.Core.Storage;
using System.Net;
using System.Net.Http.Headers;
using Smec.Core.Data.Manifests;
using Smec.Core.Encoders;
using Smec.Core.Runtime;

namespace Smec.Core.Data;

/// <summary>
/// Fetches a dataset from the URLs in its manifest. Each file is downloaded into
/// &lt;user cache&gt;/downloads/&lt;dataset&gt;/ with a progress bar; an interrupted download
/// leaves a .part file that the next attempt resumes (HTTP Range) or, when the server cannot
/// resume, restarts. A complete file is checked against its size and published checksum
/// before anything is unpacked; one that fails is deleted. The files are unpacked into a
/// temporary folder, the dataset's counts are checked there, and only then is the folder
/// renamed into place: an interrupted or failed fetch never leaves a half copy behind.
/// </summary>
public static class UpstreamDownloader
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30) })
    {
        Timeout = TimeSpan.FromHours(2),
    };

    public static string DownloadFolder(DatasetManifest manifest) => Path.Combine(DataRoot.UserCache(), "downloads", manifest.Id);

    /// <summary>Written beside a downloaded dataset: where it came from and how it was verified (its source identity).</summary>
    public const string SourceFile = ".smec-source.txt";

    /// <summary>Download, verify, unpack and count-check into <paramref name="targetFolder"/>.</summary>
    /// <param name="checkFolder">Checks a candidate folder (the dataset's counts); throws <see cref="DataVerificationException"/>.</param>
    public static void Fetch(DatasetManifest manifest, string targetFolder, Action<string>? checkFolder = null)
    {
        var downloaded = new List<string>();
        var provenance = new System.Text.StringBuilder($"dataset {manifest.Id} (manifest {manifest.ManifestFile}), fetched {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\n");
        try
        {
            AtomicFolder.Write(targetFolder, staging =>
            {
                foreach (var download in manifest.Source.Downloads)
                {
                    var file = DownloadVerified(manifest, download);
                    downloaded.Add(file);
                    provenance.Append($"{download.Url}: {new FileInfo(file).Length} bytes, verified by {VerifiedBy(manifest, download)}\n");
                    ArchiveUnpacker.Unpack(download.Archive, file, staging, download.StripPrefix, download.Target);
                }
                FileChecksums.Verify(manifest, staging);
                checkFolder?.Invoke(staging);
                provenance.Append($"counts checked: {(ManifestReader.HasCounts(manifest) ? "yes" : "none declared")}\n");
                AtomicFile.WriteAllText(Path.Combine(staging, SourceFile), provenance.ToString());
            });
            foreach (var file in downloaded) File.Delete(file); // the unpacked copy is what is kept
        }
        catch (Exception e) when (e is DataVerificationException or InvalidDataException)
        {
            foreach (var file in downloaded) File.Delete(file); // verified bytes that do not make the dataset: keep nothing
            throw;
        }
    }

    private static string VerifiedBy(DatasetManifest manifest, DownloadSpec download)
    {
        var ways = new List<string>();
        if (download.Md5 != null || (download.Archive == "file" && manifest.Files.Any(f => f.Path == download.Target && f.UpstreamMd5 != null)))
            ways.Add($"published MD5{(download.ChecksumSource != null ? $" ({download.ChecksumSource})" : "")}");
        if (download.Sha256 != null) ways.Add("published SHA-256");
        if (download.Size != null) ways.Add("size");
        if (ways.Count == 0) ways.Add("the counts only (upstream publishes no checksum)");
        return string.Join(", ", ways);
    }

    /// <summary>The downloaded file, complete and verified against its size and published checksum.</summary>
    public static string DownloadVerified(DatasetManifest manifest, DownloadSpec download)
    {
        var folder = DownloadFolder(manifest);
        Directory.CreateDirectory(folder);
        var name = download.Target ?? Path.GetFileName(new Uri(download.Url).AbsolutePath);
        if (string.IsNullOrEmpty(name)) name = "download";
        var path = Path.Combine(folder, name);
        var publishedMd5 = download.Archive == "file" ? manifest.Files.FirstOrDefault(f => f.Path == download.Target)?.UpstreamMd5 : null;
        if (!File.Exists(path)) Download(download.Url, path, manifest.Id);
        try
        {
            FileChecksums.VerifyDownload(manifest, download, path, publishedMd5);
        }
        catch (DataVerificationException)
        {
            File.Delete(path);
            throw;
        }
        return path;
    }

    /// <summary>GET <paramref name="url"/> into <paramref name="path"/> via path.part, resuming a previous .part when the server allows.</summary>
    private static void Download(string url, string path, string datasetId)
    {
        var part = path + ".part";
        for (var attempt = 0; ; attempt++)
        {
            var have = File.Exists(part) ? new FileInfo(part).Length : 0;
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
            using var response = Http.Send(request, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && attempt == 0)
            {
                File.Delete(part); // the .part does not fit the file upstream now has: start over
                continue;
            }
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException($"GET {url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            var resumed = response.StatusCode == HttpStatusCode.PartialContent && have > 0
                          && response.Content.Headers.ContentRange?.From == have;
            if (!resumed) have = 0;
            var total = response.Content.Headers.ContentLength is { } length ? have + length : (long?)null;
            Console.Error.WriteLine($"smec: downloading {url} for dataset '{datasetId}'" +
                                    (total is { } t ? $" ({t / 1e6:F1} MB)" : "") + (resumed ? $", resuming at {have / 1e6:F1} MB" : ""));
            using (var body = response.Content.ReadAsStream())
            using (var file = new FileStream(part, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write))
            {
                var bar = total is { } size ? new ProgressBar($"download {datasetId}", (int)Math.Max(1, size / 1024)) : null;
                var buffer = new byte[1 << 16];
                long done = have;
                int read;
                while ((read = body.Read(buffer)) > 0)
                {
                    file.Write(buffer, 0, read);
                    done += read;
                    bar?.Report((int)(done / 1024));
                }
                if (total is { } expected && done != expected)
                    throw new IOException($"GET {url}: the transfer ended after {done:N0} of {expected:N0} bytes (run again to resume)");
                bar?.Report((int)Math.Max(1, total!.Value / 1024));
            }
            File.Move(part, path, overwrite: true);
            return;
        }
    }
}
