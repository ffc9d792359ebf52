namespace Smec.Core.Data.Manifests;

/// <summary>
/// Every dataset, encoder and mirrored-embedding manifest in one or more data-manifests folders
/// (the repository's, plus any a user adds with --manifests DIR or SMEC_MANIFESTS_DIR), validated
/// and cross-checked (an embedding manifest must name a declared dataset and encoder). A manifest in
/// a later folder replaces one of the same id in an earlier folder.
/// </summary>
public sealed class ManifestCatalog
{
    public const string FolderName = "data-manifests";
    /// <summary>Extra manifest folders (separated by ':'), read in addition to the repository's.</summary>
    public const string Variable = "SMEC_MANIFESTS_DIR";

    /// <summary>The first folder (the repository's when it is found).</summary>
    public string Folder => Folders[0];
    public IReadOnlyList<string> Folders { get; }
    public IReadOnlyDictionary<string, DatasetManifest> Datasets { get; }
    public IReadOnlyDictionary<string, EncoderManifest> Encoders { get; }
    public IReadOnlyList<EmbeddingManifest> Embeddings { get; }

    private ManifestCatalog(IReadOnlyList<string> folders)
    {
        Folders = folders;
        Datasets = Unique(folders.SelectMany(f => ReadAll(f, "datasets", ManifestReader.ReadDataset)), m => m.Id, m => m.ManifestFile);
        Encoders = Unique(folders.SelectMany(f => ReadAll(f, "encoders", ManifestReader.ReadEncoder)), m => m.Id, m => m.ManifestFile);
        // Precomputed embeddings of a dataset that a later folder re-declares were made from the
        // replaced manifest's files: they no longer apply (the store matches embeddings by checksums anyway).
        int FolderOf(string manifestFile) => folders.ToList().IndexOf(Path.GetDirectoryName(Path.GetDirectoryName(manifestFile))!);
        Embeddings = folders.SelectMany(f => ReadAll(f, "embeddings", ManifestReader.ReadEmbedding))
            .Where(e => !Datasets.TryGetValue(e.Dataset, out var d) || FolderOf(d.ManifestFile) <= FolderOf(e.ManifestFile))
            .ToList();
        var declaredIn = string.Join(", ", folders.Select(f => Path.Combine(f, "{datasets,encoders}")));
        foreach (var d in Datasets.Values.Where(d => d.Substitute != null))
            if (!Datasets.TryGetValue(d.Substitute!, out var substitute) || substitute.Kind != d.Kind)
                throw new ManifestException(d.ManifestFile, "substitute", $"'{d.Substitute}' is not a {d.Kind} dataset declared in {string.Join(", ", folders.Select(f => f + "/datasets"))}");
        foreach (var e in Embeddings)
        {
            if (!Datasets.TryGetValue(e.Dataset, out var dataset))
                throw new ManifestException(e.ManifestFile, "dataset", $"'{e.Dataset}' is not declared in {declaredIn}");
            if (!Encoders.ContainsKey(e.Encoder))
                throw new ManifestException(e.ManifestFile, "encoder", $"'{e.Encoder}' is not declared in {declaredIn}");
            foreach (var path in e.DatasetFiles.Keys)
                if (!dataset.Files.Any(x => x.Path == path))
                    throw new ManifestException(e.ManifestFile, $"dataset_files.{path}", $"'{path}' is not a file of dataset '{e.Dataset}'");
        }
    }

    /// <summary>Manifests by id; a later folder's manifest of an id replaces an earlier one's (a user's
    /// folder can point a built-in dataset elsewhere), but one folder may not declare an id twice.</summary>
    private static Dictionary<string, T> Unique<T>(IEnumerable<T> manifests, Func<T, string> id, Func<T, string> file)
    {
        var byId = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var m in manifests)
        {
            if (byId.TryGetValue(id(m), out var first) && Path.GetDirectoryName(file(first)) == Path.GetDirectoryName(file(m)))
                throw new ManifestException(file(m), "id", $"'{id(m)}' is already declared in {file(first)}");
            byId[id(m)] = m;
        }
        return byId;
    }

    /// <summary>Load a catalog from explicit folders (each must exist).</summary>
    public static ManifestCatalog Load(params string[] folders)
    {
        if (folders.Length == 0) throw new ArgumentException("no manifest folder given");
        foreach (var folder in folders)
            if (!Directory.Exists(folder))
                throw new DirectoryNotFoundException($"manifest folder '{folder}' does not exist");
        return new ManifestCatalog(folders.Select(Path.GetFullPath).Distinct().ToList());
    }

    private static readonly Lazy<ManifestCatalog> DefaultCatalog = new(() => Load(FindFolders().ToArray()));

    /// <summary>The catalog of this checkout (or of the copy next to the program) plus the user's folders, loaded once.</summary>
    public static ManifestCatalog Default => DefaultCatalog.Value;

    /// <summary>&lt;repo&gt;/data-manifests (else the copy the build puts next to the program), then every folder SMEC_MANIFESTS_DIR names.</summary>
    public static IReadOnlyList<string> FindFolders()
    {
        var candidates = new List<string>();
        var root = RepoPaths.TryFindRoot();
        if (root != null) candidates.Add(Path.Combine(root, FolderName));
        candidates.Add(Path.Combine(AppContext.BaseDirectory, FolderName));
        var builtIn = candidates.FirstOrDefault(Directory.Exists)
            ?? throw new DirectoryNotFoundException(
                $"no {FolderName} folder found (looked in: {string.Join(", ", candidates)})");
        var folders = new List<string> { builtIn };
        foreach (var extra in UserFolders())
        {
            if (!Directory.Exists(extra))
                throw new DirectoryNotFoundException($"manifest folder '{extra}' (from {Variable}) does not exist");
            folders.Add(extra);
        }
        return folders;
    }

    /// <summary>The folders SMEC_MANIFESTS_DIR names (':'-separated), as absolute paths.</summary>
    public static IReadOnlyList<string> UserFolders() =>
        (Environment.GetEnvironmentVariable(Variable) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Path.GetFullPath).ToList();

    /// <summary>
    /// Add a user's manifest folder for this process and the processes it starts (it goes into
    /// SMEC_MANIFESTS_DIR); call before the catalog is first used. A folder that does not exist is an error.
    /// </summary>
    public static void AddUserFolder(string folder)
    {
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"manifest folder '{folder}' (--manifests) does not exist");
        if (DefaultCatalog.IsValueCreated) throw new InvalidOperationException("the manifest catalog is already loaded; add folders first");
        var folders = UserFolders().Where(f => f != full).Append(full);
        Environment.SetEnvironmentVariable(Variable, string.Join(Path.PathSeparator, folders));
    }

    public DatasetManifest Dataset(string id) =>
        Datasets.TryGetValue(id, out var m) ? m
        : throw new Runtime.UnknownNameException($"unknown dataset '{id}'; declared: {string.Join(", ", Datasets.Keys.Order())} (in {string.Join(", ", Folders.Select(f => f + "/datasets"))})");

    public EncoderManifest Encoder(string id) =>
        Encoders.TryGetValue(id, out var m) ? m
        : throw new Runtime.UnknownNameException($"unknown encoder '{id}'; declared: {string.Join(", ", Encoders.Keys.Order())} (in {string.Join(", ", Folders.Select(f => f + "/encoders"))})");

    private static IEnumerable<T> ReadAll<T>(string folder, string sub, Func<string, T> read)
    {
        var dir = Path.Combine(folder, sub);
        if (!Directory.Exists(dir)) return [];
        return Directory.EnumerateFiles(dir, "*.yaml").Order(StringComparer.Ordinal).Select(read).ToList();
    }
}
