using YamlDotNet.Serialization;

namespace Smec.Core.Data.Manifests;

/// <summary>
/// Precomputed embeddings shipped in the data mirror (data-manifests/embeddings/*.yaml), with
/// the key material they were computed from, so the store can tell whether they fit a request.
/// </summary>
public sealed class EmbeddingManifest
{
    public string Dataset { get; set; } = "";
    public string Encoder { get; set; } = "";
    /// <summary>The folder relative to a data root.</summary>
    public string Path { get; set; } = "";
    /// <summary>Dataset file (relative path) -> SHA-256 it was computed from.</summary>
    public Dictionary<string, string> DatasetFiles { get; set; } = [];
    public EncoderSettings Settings { get; set; } = new();
    public Dictionary<string, EmbeddingPartFiles> Parts { get; set; } = [];
    public string Licence { get; set; } = "";

    [YamlIgnore] public string ManifestFile { get; set; } = "";
}

/// <summary>One part (corpus, queries, ...): its matrix and ids files with their checksums.</summary>
public sealed class EmbeddingPartFiles
{
    public int Rows { get; set; }
    public int Dim { get; set; }
    public ChecksummedFile Npy { get; set; } = new();
    public ChecksummedFile Ids { get; set; } = new();
}

public sealed class ChecksummedFile
{
    public string Path { get; set; } = "";
    public string Sha256 { get; set; } = "";
}
