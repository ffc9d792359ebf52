using System.Security.Cryptography;
using System.Text;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data;

/// <summary>
/// The lengths a SHA-256 is cut to where the full 64 hex digits would only be noise; each names what
/// it keys. Changing one changes every name made with it (cached embeddings, data identities in
/// result keys), so they are fixed.
/// </summary>
public static class HashLength
{
    /// <summary>A dataset copy's data identity and an embeddings manifest's fingerprint (16 hex digits).</summary>
    public const int Identity = 16;
    /// <summary>An embedding cache entry's key (20 hex digits).</summary>
    public const int CacheKey = 20;
    /// <summary>A hash shown in messages and tables (12 hex digits, after an optional "sha256:").</summary>
    public const int Display = 12;
}

/// <summary>SHA-256 (lower-case hex) of files and texts, the one checksum helper; MD5 of downloads;
/// the checks of a downloaded file and of a dataset copy.</summary>
public static class FileChecksums
{
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>SHA-256 of a text's UTF-8 bytes.</summary>
    public static string Sha256OfText(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>SHA-256 of a text's UTF-8 bytes, cut to one of the <see cref="HashLength"/>s.</summary>
    public static string Sha256OfText(string text, int length) => Sha256OfText(text)[..length];

    /// <summary>A hash for messages: its first <see cref="HashLength.Display"/> hex digits, keeping a "sha256:" prefix.</summary>
    public static string Short(string hash)
    {
        const string prefix = "sha256:";
        var hex = hash.StartsWith(prefix, StringComparison.Ordinal) ? hash[prefix.Length..] : hash;
        return hex.Length <= HashLength.Display ? hash : hash[..(hash.Length - hex.Length + HashLength.Display)];
    }

    public static string Md5(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(stream));
    }

    /// <summary>
    /// Every required file of the dataset is present; returns the copy's data identity. Bytes
    /// that differ from the reference copy's are not an error here (the counts decide whether
    /// a copy is usable); they make another identity, which keys its embeddings and results.
    /// </summary>
    public static DataIdentity Verify(DatasetManifest manifest, string folder)
    {
        foreach (var file in manifest.Files.Where(f => !f.Optional))
        {
            var path = Path.Combine(folder, file.Path);
            if (!File.Exists(path))
                throw new DataVerificationException(
                    $"{path}: missing (dataset '{manifest.Id}' needs it as its {file.Role} file; declared in {manifest.ManifestFile})");
        }
        return DataIdentity.Of(manifest, folder);
    }

    /// <summary>
    /// Source verification of a downloaded file, before anything is unpacked from it: its size
    /// and the checksums upstream publishes, where the manifest gives them. Throws naming the
    /// URL, the manifest and both values.
    /// </summary>
    public static void VerifyDownload(DatasetManifest manifest, DownloadSpec download, string path, string? publishedMd5 = null)
    {
        var length = new FileInfo(path).Length;
        if (download.Size is { } size && size != length)
            throw new DataVerificationException(
                $"{download.Url}: downloaded {length:N0} bytes, but {manifest.ManifestFile} says the file has {size:N0}: " +
                "a different release or a damaged transfer; nothing was kept");
        var md5 = download.Md5 ?? publishedMd5;
        if (md5 != null && Md5(path) is var actualMd5 && actualMd5 != md5)
            throw new DataVerificationException(
                $"{download.Url}: MD5 is {actualMd5}, but the published MD5 is {md5} ({download.ChecksumSource ?? manifest.ManifestFile}): " +
                "a different release or a damaged transfer; nothing was kept");
        if (download.Sha256 != null && Sha256(path) is var actualSha && actualSha != download.Sha256)
            throw new DataVerificationException(
                $"{download.Url}: SHA-256 is {actualSha}, but the published SHA-256 is {download.Sha256} ({download.ChecksumSource ?? manifest.ManifestFile}): " +
                "a different release or a damaged transfer; nothing was kept");
    }
}
