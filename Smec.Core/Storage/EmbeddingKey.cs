using Smec.Core.Data;
using System.Text;

namespace Smec.Core.Storage;

/// <summary>
/// What embeddings depend on, and its hash: the dataset's files (path and SHA-256), how the
/// format's loader turns them into texts or images (<see cref="LoaderVersion"/>), the encoder id
/// and its canonical settings, and any selection of items (an image subset). Two requests share
/// cached embeddings exactly when their key material is equal.
/// </summary>
public sealed record EmbeddingKey(
    string DatasetId,
    string DatasetFormat,
    IReadOnlyList<(string Path, string Sha256)> DatasetFiles,
    string EncoderId,
    string EncoderSettings,
    string? Selection = null)
{
    /// <summary>Bump when a loader changes the texts or images it yields for the same files.</summary>
    public const int LoaderVersion = 1;

    public string Material()
    {
        var sb = new StringBuilder("smec-embeddings v1\n");
        sb.Append($"dataset {DatasetId} format {DatasetFormat} loader v{LoaderVersion}\n");
        foreach (var (path, sha) in DatasetFiles.OrderBy(f => f.Path, StringComparer.Ordinal))
            sb.Append($"file {path} {sha}\n");
        sb.Append($"encoder {EncoderId}\nsettings {EncoderSettings}\n");
        if (Selection != null) sb.Append($"selection {Selection}\n");
        return sb.ToString();
    }

    /// <summary>The first 20 hex digits of the material's SHA-256 (80 bits: no accidental collisions).</summary>
    public string Hash() => FileChecksums.Sha256OfText(Material(), HashLength.CacheKey);
}
