using System.Security.Cryptography;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data;

/// <summary>SHA-256 (and, for upstream-published sums, MD5) of files, and verification against a manifest.</summary>
public static class FileChecksums
{
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Md5(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(stream));
    }

    /// <summary>
    /// Check every file of the dataset that has a pinned checksum. A file matches when its
    /// SHA-256 equals the manifest's, or (for files recompressed by a packager) when its MD5
    /// equals the upstream-published one. Throws naming the file and both sums.
    /// </summary>
    public static void Verify(DatasetManifest manifest, string folder)
    {
        foreach (var file in manifest.Files)
        {
            var path = Path.Combine(folder, file.Path);
            if (!File.Exists(path))
                throw new DataVerificationException(
                    $"{path}: missing (dataset '{manifest.Id}' needs it as its {file.Role} file; declared in {manifest.ManifestFile})");
            if (file.Sha256 == null) continue;
            var actual = Sha256(path);
            if (actual == file.Sha256) continue;
            if (file.UpstreamMd5 != null && Md5(path) == file.UpstreamMd5) continue;
            throw new DataVerificationException(
                $"{path}: SHA-256 is {actual}, but {manifest.ManifestFile} expects {file.Sha256}" +
                (file.UpstreamMd5 != null ? $" (or upstream MD5 {file.UpstreamMd5})" : "") +
                ": the file is changed, truncated or a different release. Restore it from the mirror or upstream.");
        }
    }
}
