namespace Smec.Core.Data.Manifests;

/// <summary>
/// Every dataset, encoder and mirrored-embedding manifest in a data-manifests folder, validated
/// and cross-checked (an embedding manifest must name a declared dataset and encoder).
/// </summary>
public sealed class ManifestCatalog
{
    public const string FolderName = "data-manifests";
    public const string Variable = "SMEC_MANIFESTS_DIR";

    public string Folder { get; }
    public IReadOnlyDictionary<string, DatasetManifest> Datasets { get; }
    public IReadOnlyDictionary<string, EncoderManifest> Encoders { get; }
    public IReadOnlyList<EmbeddingManifest> Embeddings { get; }

    private ManifestCatalog(string folder)
    {
        Folder = folder;
        Datasets = ReadAll(folder, "datasets", ManifestReader.ReadDataset).ToDictionary(m => m.Id, StringComparer.Ordinal);
        Encoders = ReadAll(folder, "encoders", ManifestReader.ReadEncoder).ToDictionary(m => m.Id, StringComparer.Ordinal);
        Embeddings = ReadAll(folder, "embeddings", ManifestReader.ReadEmbedding).ToList();
        foreach (var d in Datasets.Values.Where(d => d.Substitute != null))
            if (!Datasets.TryGetValue(d.Substitute!, out var substitute) || substitute.Kind != d.Kind)
                throw new ManifestException(d.ManifestFile, "substitute", $"'{d.Substitute}' is not a {d.Kind} dataset declared in {folder}/datasets");
        foreach (var e in Embeddings)
        {
            if (!Datasets.TryGetValue(e.Dataset, out var dataset))
                throw new ManifestException(e.ManifestFile, "dataset", $"'{e.Dataset}' is not declared in {folder}/datasets");
            if (!Encoders.ContainsKey(e.Encoder))
                throw new ManifestException(e.ManifestFile, "encoder", $"'{e.Encoder}' is not declared in {folder}/encoders");
            foreach (var path in e.DatasetFiles.Keys)
                if (!dataset.Files.Any(x => x.Path == path))
                    throw new ManifestException(e.ManifestFile, $"dataset_files.{path}", $"'{path}' is not a file of dataset '{e.Dataset}'");
        }
    }

    /// <summary>Load a catalog from an explicit folder.</summary>
    public static ManifestCatalog Load(string folder)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"manifest folder '{folder}' does not exist");
        return new ManifestCatalog(Path.GetFullPath(folder));
    }

    private static readonly Lazy<ManifestCatalog> DefaultCatalog = new(() => Load(FindFolder()));

    /// <summary>The catalog of this checkout (or of the copy next to the program), loaded once.</summary>
    public static ManifestCatalog Default => DefaultCatalog.Value;

    /// <summary>SMEC_MANIFESTS_DIR, then &lt;repo&gt;/data-manifests, then the copy the build puts next to the program.</summary>
    public static string FindFolder()
    {
        var candidates = new List<string>();
        var env = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(env)) candidates.Add(Path.GetFullPath(env));
        var root = RepoPaths.TryFindRoot();
        if (root != null) candidates.Add(Path.Combine(root, FolderName));
        candidates.Add(Path.Combine(AppContext.BaseDirectory, FolderName));
        return candidates.FirstOrDefault(Directory.Exists)
            ?? throw new DirectoryNotFoundException(
                $"no {FolderName} folder found (looked in: {string.Join(", ", candidates)}); set {Variable}");
    }

    public DatasetManifest Dataset(string id) =>
        Datasets.TryGetValue(id, out var m) ? m
        : throw new Runtime.UnknownNameException($"unknown dataset '{id}'; declared: {string.Join(", ", Datasets.Keys.Order())} (in {Folder}/datasets)");

    public EncoderManifest Encoder(string id) =>
        Encoders.TryGetValue(id, out var m) ? m
        : throw new Runtime.UnknownNameException($"unknown encoder '{id}'; declared: {string.Join(", ", Encoders.Keys.Order())} (in {Folder}/encoders)");

    private static IEnumerable<T> ReadAll<T>(string folder, string sub, Func<string, T> read)
    {
        var dir = Path.Combine(folder, sub);
        if (!Directory.Exists(dir)) return [];
        return Directory.EnumerateFiles(dir, "*.yaml").Order(StringComparer.Ordinal).Select(read).ToList();
    }
}
