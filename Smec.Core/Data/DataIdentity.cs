using System.Collections.Concurrent;
using System.Text;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data;

/// <summary>
/// What a dataset copy is: the SHA-256 of every file the loader reads. It is one of a dataset's
/// two identities, kept apart from where the copy came from and how that was verified (a
/// download's published checksum, the counts). Embeddings and results are keyed by it, so a
/// copy whose bytes differ from the project's reference copy (the mirror, and the embedded
/// archive made from it) never shares their cached values or their blessed references.
/// </summary>
public sealed record DataIdentity(string DatasetId, IReadOnlyList<(string Path, string Sha256)> Files, IReadOnlyList<string> DifferFromReference)
{
    /// <summary>The name results use for the reference copy's identity.</summary>
    public const string ReferenceName = "reference";

    /// <summary>Every file equals the manifest's pinned checksum: the mirror's (and the embedded) bytes.</summary>
    public bool IsReference => DifferFromReference.Count == 0;

    /// <summary>First 16 hex digits of the SHA-256 over "path sha256" lines in path order.</summary>
    public string Hash
    {
        get
        {
            var material = new StringBuilder($"smec-data {DatasetId}\n");
            foreach (var (path, sha) in Files.OrderBy(f => f.Path, StringComparer.Ordinal)) material.Append($"{path} {sha}\n");
            return FileChecksums.Sha256OfText(material.ToString(), HashLength.Identity);
        }
    }

    /// <summary>"reference" for the reference copy, else the hash: what blessed values and result keys record.</summary>
    public string Name => IsReference ? ReferenceName : Hash;

    public string Describe() =>
        IsReference ? $"the reference copy's bytes (data identity {Hash})"
        : $"other bytes than the reference copy in {string.Join(", ", DifferFromReference)} (data identity {Hash})";

    private static readonly ConcurrentDictionary<string, (long Length, DateTime Modified, string Sha)> Sums = new();

    /// <summary>The identity of the copy in <paramref name="folder"/> (optional files that are absent are left out).</summary>
    public static DataIdentity Of(DatasetManifest manifest, string folder)
    {
        var files = new List<(string, string)>();
        var differ = new List<string>();
        foreach (var file in manifest.Files)
        {
            var path = Path.Combine(folder, file.Path);
            if (file.Optional && !File.Exists(path)) continue;
            var sha = CachedSha256(path);
            files.Add((file.Path, sha));
            if (file.Sha256 != sha) differ.Add(file.Path);
        }
        return new DataIdentity(manifest.Id, files, differ);
    }

    /// <summary>SHA-256 of a file, computed once per process while its size and mtime stay the same.</summary>
    public static string CachedSha256(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        if (!info.Exists)
            throw new DataVerificationException($"{info.FullName}: missing");
        if (Sums.TryGetValue(info.FullName, out var known) && known.Length == info.Length && known.Modified == info.LastWriteTimeUtc)
            return known.Sha;
        var sha = FileChecksums.Sha256(info.FullName);
        Sums[info.FullName] = (info.Length, info.LastWriteTimeUtc, sha);
        return sha;
    }
}
