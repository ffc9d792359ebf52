using YamlDotNet.Serialization;

namespace Smec.Core.Data.Manifests;

/// <summary>
/// One dataset as declared in data-manifests/datasets/&lt;id&gt;.yaml: where it lives, how to get
/// it, the bytes and counts a correct copy has, and how to cite it. Field names in YAML are the
/// snake_case forms of the properties.
/// </summary>
public sealed class DatasetManifest
{
    public string Id { get; set; } = "";
    public string Title { get; set; } = "";
    /// <summary>Short name for tables and panels ("SciFact"); the id when not given.</summary>
    public string? Name { get; set; }
    [YamlIgnore] public string DisplayName => string.IsNullOrWhiteSpace(Name) ? Id : Name;
    /// <summary>text-retrieval, image-classification or image-captions.</summary>
    public string Kind { get; set; } = "";
    /// <summary>beir, cranfield, cacm, idx, jpeg-tar, flickr-captions, or external (embeddings only).</summary>
    public string Format { get; set; } = "";
    /// <summary>True when the project's data mirror (or a system package) holds a verified copy.</summary>
    public bool Mirrored { get; set; }
    /// <summary>The dataset folder relative to a data root (the mirror, SMEC_DATA_DIR or the user cache).</summary>
    public string Path { get; set; } = "";
    /// <summary>Absolute folders a system package installs the files into (tried after the data roots).</summary>
    public List<string> SystemPaths { get; set; } = [];
    public List<DataFile> Files { get; set; } = [];
    public List<string> Classes { get; set; } = [];
    public SourceSpec Source { get; set; } = new();
    public ExpectedCounts? Counts { get; set; }
    /// <summary>How the collection's queries are split into train, validation and test
    /// (data-manifests/README.md, "Split rule"); null: the documented default.</summary>
    public SplitSpec? Split { get; set; }
    /// <summary>Raw qrels value -> graded gain, where a collection's scale is not "larger is better".</summary>
    public Dictionary<string, int>? RelevanceMap { get; set; }
    /// <summary>
    /// A dataset used in this one's place when no local copy of it exists (not even an earlier
    /// download): same kind and classes, other bytes (e.g. CIFAR-10's original archive for the
    /// mirror's JPEG copy). Its data identity keys the numbers, so they never mix.
    /// </summary>
    public string? Substitute { get; set; }
    /// <summary>How `smec data build` makes this dataset from a user's copy of its source, where it has no download.</summary>
    public BuildSpec? Build { get; set; }
    public string Licence { get; set; } = "";
    public string Citation { get; set; } = "";

    /// <summary>The YAML file this was read from (for error messages).</summary>
    [YamlIgnore] public string ManifestFile { get; set; } = "";

    public IEnumerable<DataFile> FilesWithRole(string role) => Files.Where(f => f.Role == role);

    public DataFile FileWithRole(string role) =>
        Files.FirstOrDefault(f => f.Role == role)
        ?? throw new ManifestException(ManifestFile, "files", $"no file with role '{role}' (format '{Format}' needs one)");
}

/// <summary>One file of a dataset, relative to the dataset folder.</summary>
public sealed class DataFile
{
    public string Path { get; set; } = "";
    /// <summary>What the loader uses it for: corpus, queries, qrels, archive, captions, train-images, ...</summary>
    public string Role { get; set; } = "";
    /// <summary>For qrels files: the split they judge.</summary>
    public string? Split { get; set; }
    /// <summary>
    /// SHA-256 of the file in the project's reference copy (the data mirror, and the embedded
    /// copy), lower-case hex; absent for datasets the project never had. A copy with other bytes
    /// is not rejected for it: it is another data identity (see <see cref="Smec.Core.Data.DataIdentity"/>).
    /// </summary>
    public string? Sha256 { get; set; }
    /// <summary>MD5 published by upstream for this very file (a download of it is checked against it).</summary>
    public string? UpstreamMd5 { get; set; }
    /// <summary>Not needed by the loader (e.g. a readme): a copy without it is complete.</summary>
    public bool Optional { get; set; }
}

/// <summary>A subset built from a user's copy of the full source (`smec data build &lt;id&gt; --from DIR`).</summary>
public sealed class BuildSpec
{
    /// <summary>What is taken and how it is transformed, in words (shown by the command and in errors).</summary>
    public string Rule { get; set; } = "";
    /// <summary>The source's image file names that make the subset, in order.</summary>
    public List<string> Images { get; set; } = [];
}

/// <summary>Where the data comes from upstream.</summary>
public sealed class SourceSpec
{
    public string? Homepage { get; set; }
    public List<DownloadSpec> Downloads { get; set; } = [];
    /// <summary>How to obtain the data by hand (always shown when the data is missing).</summary>
    public string Instructions { get; set; } = "";
}

/// <summary>One upstream download and how to unpack it into the dataset folder.</summary>
public sealed class DownloadSpec
{
    public string Url { get; set; } = "";
    /// <summary>zip, tar.gz or file (kept as downloaded, under <see cref="Target"/>).</summary>
    public string Archive { get; set; } = "";
    /// <summary>A folder prefix inside the archive to drop (e.g. "scifact/").</summary>
    public string? StripPrefix { get; set; }
    /// <summary>For archive: file, the name to save it as.</summary>
    public string? Target { get; set; }
    /// <summary>The MD5 upstream publishes for the downloaded file (checked before it is unpacked).</summary>
    public string? Md5 { get; set; }
    /// <summary>The SHA-256 upstream publishes for the downloaded file.</summary>
    public string? Sha256 { get; set; }
    /// <summary>The downloaded file's size in bytes, where known.</summary>
    public long? Size { get; set; }
    /// <summary>Where <see cref="Md5"/>/<see cref="Sha256"/> are published (shown when they do not match).</summary>
    public string? ChecksumSource { get; set; }
}

/// <summary>The counts a correct copy has; loaders check every one that is given.</summary>
/// <summary>A collection's split rule, as its manifest states it.</summary>
public sealed class SplitSpec
{
    public const string GivenTrainTest = "given-train-test", QueryHalves = "query-halves", KFold = "k-fold";

    /// <summary>given-train-test (the collection's own train and test judgements), query-halves
    /// (its judged queries halved by a fixed hash into train and test) or k-fold (cross-validation
    /// over its judged queries, <see cref="Folds"/> folds by a fixed hash).</summary>
    public string Rule { get; set; } = "";
    /// <summary>given-train-test: the train queries held out for validation; query-halves: the fewest
    /// held out of the train half (a fifth of it when that is more); k-fold: the fewest held out of
    /// each fold's training queries (a fifth of them when that is more; 0 or absent: the default).</summary>
    public int Validation { get; set; }
    /// <summary>k-fold: the number of folds (5 when not given).</summary>
    public int Folds { get; set; } = 5;
}

public sealed class ExpectedCounts
{
    public int? Docs { get; set; }
    /// <summary>Queries in the queries file (all splits).</summary>
    public int? Queries { get; set; }
    /// <summary>Queries with at least one judgement, where that differs from <see cref="Queries"/>.</summary>
    public int? JudgedQueries { get; set; }
    public Dictionary<string, SplitCounts> Splits { get; set; } = [];
    /// <summary>The distinct relevance values (after <see cref="DatasetManifest.RelevanceMap"/>) in the qrels.</summary>
    public List<int>? RelevanceLevels { get; set; }
    public int? Classes { get; set; }
    /// <summary>Split -> images in each class (balanced datasets).</summary>
    public Dictionary<string, int>? ImagesPerClass { get; set; }
    public int? Images { get; set; }
    public int? Captions { get; set; }
    public int? CaptionsPerImage { get; set; }
}

/// <summary>Counts of one split: judged queries and qrels rows (text), or images.</summary>
public sealed class SplitCounts
{
    public int? Queries { get; set; }
    public int? Qrels { get; set; }
    public int? Images { get; set; }
}
