using System.Collections.Concurrent;
using Smec.Core.Data.Manifests;
using Smec.Core.Storage;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Smec.Core.Data;

/// <summary>data-manifests/embedded/embedded.yaml: the archive shipped in the repository and the datasets it holds.</summary>
public sealed class EmbeddedIndex
{
    /// <summary>The tar.gz file name, beside embedded.yaml; members are paths under a data root.</summary>
    public string Archive { get; set; } = "";
    /// <summary>The archive's SHA-256, checked before it is unpacked.</summary>
    public string Sha256 { get; set; } = "";
    /// <summary>Dataset ids whose reference copy the archive holds.</summary>
    public List<string> Datasets { get; set; } = [];

    [YamlIgnore] public string IndexFile { get; set; } = "";
    [YamlIgnore] public string ArchivePath => Path.Combine(Path.GetDirectoryName(IndexFile)!, Archive);
    /// <summary>The manifests folder the index belongs to (its datasets/ pins every file's bytes).</summary>
    [YamlIgnore] public string ManifestsFolder => Path.GetDirectoryName(Path.GetDirectoryName(IndexFile)!)!;
}

/// <summary>
/// The embedded default data: unpacked once into &lt;user cache&gt;/embedded/&lt;archive sha256&gt;/
/// (a data root) and verified. The archive's SHA-256 is checked first, then it is unpacked into
/// a temporary folder, every file is checked against the dataset manifests' reference
/// checksums, and only then the folder is renamed into place, so a half-unpacked copy is never
/// seen. Concurrent processes each unpack their own temporary copy; the first rename wins.
/// </summary>
public static class EmbeddedData
{
    public const string FolderName = "embedded";
    public const string IndexName = "embedded.yaml";
    private const string VerifiedMarker = ".verified";

    private static readonly IDeserializer Yaml = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
    private static readonly ConcurrentDictionary<string, EmbeddedIndex?> Indexes = new();

    /// <summary>The index of the manifests folder that declared <paramref name="manifest"/>, or null when it has none.</summary>
    public static EmbeddedIndex? TryIndex(DatasetManifest manifest)
    {
        if (string.IsNullOrEmpty(manifest.ManifestFile)) return null;
        var datasets = Path.GetDirectoryName(Path.GetFullPath(manifest.ManifestFile));
        var manifests = datasets == null ? null : Path.GetDirectoryName(datasets);
        return manifests == null ? null : TryIndex(manifests);
    }

    /// <summary>The index in &lt;manifestsFolder&gt;/embedded/, or null.</summary>
    public static EmbeddedIndex? TryIndex(string manifestsFolder) =>
        Indexes.GetOrAdd(Path.GetFullPath(manifestsFolder), folder =>
        {
            var file = Path.Combine(folder, FolderName, IndexName);
            if (!File.Exists(file)) return null;
            EmbeddedIndex index;
            var text = File.ReadAllText(file);
            Runtime.YamlInput.Load(file, text); // syntax errors: file, line and column
            try { index = Yaml.Deserialize<EmbeddedIndex>(text) ?? new EmbeddedIndex(); }
            catch (YamlDotNet.Core.YamlException e) { throw new ManifestException(file, "", e.Message); }
            index.IndexFile = file;
            if (string.IsNullOrWhiteSpace(index.Archive)) throw new ManifestException(file, "archive", "name the tar.gz beside this file");
            if (index.Sha256.Length != 64) throw new ManifestException(file, "sha256", "64 lower-case hex digits of the archive's SHA-256");
            return index;
        });

    public static bool Holds(DatasetManifest manifest) => TryIndex(manifest)?.Datasets.Contains(manifest.Id) == true;

    /// <summary>The data root the archive unpacks into (it need not exist yet).</summary>
    public static string Root(EmbeddedIndex index) => Path.Combine(DataRoot.UserCache(), FolderName, index.Sha256[..HashLength.Identity]);

    /// <summary>The unpacked, verified data root holding <paramref name="manifest"/>'s reference copy.</summary>
    public static string Unpack(DatasetManifest manifest)
    {
        var index = TryIndex(manifest) ?? throw new DataUnavailableException($"dataset '{manifest.Id}' has no embedded copy");
        return Unpack(index);
    }

    public static string Unpack(EmbeddedIndex index)
    {
        var root = Root(index);
        if (File.Exists(Path.Combine(root, VerifiedMarker))) return root;
        if (!File.Exists(index.ArchivePath))
            throw new DataUnavailableException($"{index.ArchivePath}: missing (declared in {index.IndexFile}); restore it from the repository");
        var sha = FileChecksums.Sha256(index.ArchivePath);
        if (sha != index.Sha256)
            throw new DataVerificationException(
                $"{index.ArchivePath}: SHA-256 is {sha}, but {index.IndexFile} expects {index.Sha256}: the embedded archive is changed " +
                "(rebuild it with make-archive.sh from the mirror and update the sha256, or restore it from git)");
        Console.Error.WriteLine($"smec: unpacking the embedded data ({string.Join(", ", index.Datasets)}) into {root} (once)");
        if (Directory.Exists(root) && !File.Exists(Path.Combine(root, VerifiedMarker)))
            Directory.Delete(root, recursive: true); // not made by this code: never trusted
        AtomicFolder.Write(root, staging =>
        {
            ArchiveUnpacker.Unpack("tar.gz", index.ArchivePath, staging);
            foreach (var id in index.Datasets)
            {
                var manifest = ManifestReader.ReadDataset(Path.Combine(index.ManifestsFolder, "datasets", id + ".yaml"));
                var folder = Path.Combine(staging, manifest.Path);
                var identity = FileChecksums.Verify(manifest, folder);
                if (!identity.IsReference)
                    throw new DataVerificationException(
                        $"{index.ArchivePath}: dataset '{id}' unpacks to other bytes than {manifest.ManifestFile} pins " +
                        $"({string.Join(", ", identity.DifferFromReference)}); the embedded copy must be the reference copy");
            }
            AtomicFile.WriteAllText(Path.Combine(staging, VerifiedMarker), index.Sha256 + "\n");
        }, replaceExisting: false); // another process that finished first made the same verified copy
        return root;
    }
}
