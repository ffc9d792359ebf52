using Smec.Core.Data.Manifests;

namespace Smec.Core.Data;

/// <summary>A dataset folder and the rule that found it.</summary>
public sealed record DatasetLocation(string Folder, string Rule, bool Downloaded = false);

/// <summary>
/// Finds a dataset's folder. Order: an explicit path (the dataset folder itself, or a data root
/// holding it), SMEC_DATA_DIR, the mirror at ../shared/data, the folders a system package
/// installs (e.g. Debian's dataset-fashion-mnist), the copy embedded in the repository
/// (data-manifests/embedded, unpacked once into the user cache), a previous download in the
/// user cache, and finally a download from upstream into the user cache. A folder that exists
/// but lacks a declared file is an error naming that file: a half copy is never skipped silently.
/// </summary>
public static class DatasetLocator
{
    /// <summary>Set to 1 to forbid downloads (the error then says how to get the data by hand).</summary>
    public const string OfflineVariable = "SMEC_OFFLINE";

    public static string DownloadRoot() => Path.Combine(DataRoot.UserCache(), "data");

    public const string EmbeddedRule = "embedded in the repository";

    /// <summary>Every place looked at, in order, with its rule.</summary>
    public static IReadOnlyList<DatasetLocation> Candidates(DatasetManifest manifest, string? explicitPath = null)
    {
        var list = new List<DatasetLocation>();
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            var full = Path.GetFullPath(explicitPath);
            // An explicit path may be the dataset folder or a data root that holds it.
            var asRoot = Path.Combine(full, manifest.Path);
            list.Add(new(HasAnyFile(manifest, full) || !Directory.Exists(asRoot) ? full : asRoot, "explicit path"));
            return list; // explicit means explicit: nothing else is tried
        }
        foreach (var root in DataRoot.Candidates())
            list.Add(new(Path.Combine(root.Path, manifest.Path), root.Rule));
        foreach (var system in manifest.SystemPaths)
            list.Add(new(system, "system package"));
        if (EmbeddedData.TryIndex(manifest) is { } embedded && embedded.Datasets.Contains(manifest.Id))
            list.Add(new(Path.Combine(EmbeddedData.Root(embedded), manifest.Path), EmbeddedRule));
        list.Add(new(Path.Combine(DownloadRoot(), manifest.Path), "user cache"));
        return list;
    }

    /// <summary>The folder holding every declared file of the dataset, downloading it if allowed.</summary>
    /// <param name="checkFolder">Checks a downloaded copy (its counts) before it is moved into place.</param>
    public static DatasetLocation Locate(DatasetManifest manifest, string? explicitPath = null, bool allowDownload = true,
                                         Action<string>? checkFolder = null)
    {
        var candidates = Candidates(manifest, explicitPath);
        foreach (var candidate in candidates)
        {
            var isExplicit = candidate.Rule == "explicit path";
            if (candidate.Rule == EmbeddedRule) EmbeddedData.Unpack(manifest); // once; verified
            if (!isExplicit && !HasAnyFile(manifest, candidate.Folder)) continue;
            var missing = manifest.Files.FirstOrDefault(f => !f.Optional && !File.Exists(Path.Combine(candidate.Folder, f.Path)));
            if (missing == null) return candidate;
            if (isExplicit && !HasAnyFile(manifest, candidate.Folder))
                throw new DataUnavailableException(
                    $"{Path.Combine(candidate.Folder, missing.Path)}: missing. Dataset '{manifest.Id}' is not at the explicit path " +
                    $"{candidate.Folder}, which holds none of its files (when a path is given, nothing else is tried). " +
                    HowToGet(manifest));
            throw new DataUnavailableException(
                $"{Path.Combine(candidate.Folder, missing.Path)}: missing. Dataset '{manifest.Id}' was found at " +
                $"{candidate.Folder} ({candidate.Rule}) but that copy lacks its {missing.Role} file '{missing.Path}'. " +
                HowToGet(manifest));
        }
        var looked = string.Join("; ", candidates.Select(c => $"{c.Folder} ({c.Rule})"));
        if (manifest.Format == "external")
            throw new DataUnavailableException(
                $"dataset '{manifest.Id}' is not available here (looked in: {looked}). {HowToGet(manifest)}");
        var offline = Environment.GetEnvironmentVariable(OfflineVariable) == "1";
        if (!allowDownload || offline || manifest.Source.Downloads.Count == 0)
            throw new DataUnavailableException(
                $"dataset '{manifest.Id}' not found (looked in: {looked}). " +
                (manifest.Source.Downloads.Count == 0 ? "It has no public download. "
                    : offline ? $"Downloads are off ({OfflineVariable}=1). " : "Downloads were not allowed. ") +
                HowToGet(manifest));
        var target = Path.Combine(DownloadRoot(), manifest.Path);
        checkFolder ??= folder => DatasetLoader.CheckFolder(manifest, folder);
        try
        {
            UpstreamDownloader.Fetch(manifest, target, checkFolder);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidDataException or DataVerificationException)
        {
            throw new DataUnavailableException(
                $"dataset '{manifest.Id}' not found (looked in: {looked}), and downloading it into {target} failed: " +
                $"{e.Message.TrimEnd('.')}. {HowToGet(manifest)}", e);
        }
        return new DatasetLocation(target, "downloaded from upstream into the user cache", Downloaded: true);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, DatasetManifest> Substitutes = new();

    /// <summary>
    /// The dataset actually used for <paramref name="manifest"/>: itself when a copy is here (any
    /// rule but a download) or it names no substitute, else its substitute (read from the same
    /// manifests folder), which may then be downloaded. An explicit path is never substituted.
    /// </summary>
    public static DatasetManifest Effective(DatasetManifest manifest, string? explicitPath = null)
    {
        if (manifest.Substitute == null || !string.IsNullOrWhiteSpace(explicitPath)) return manifest;
        try
        {
            Locate(manifest, null, allowDownload: false);
            return manifest;
        }
        catch (DataUnavailableException) { }
        var file = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifest.ManifestFile))!, manifest.Substitute + ".yaml");
        return Substitutes.GetOrAdd(file, f =>
        {
            var substitute = ManifestReader.ReadDataset(f);
            if (substitute.Kind != manifest.Kind || !substitute.Classes.SequenceEqual(manifest.Classes))
                throw new ManifestException(manifest.ManifestFile, "substitute", $"'{manifest.Substitute}' must have the same kind and classes");
            Console.Error.WriteLine($"smec: dataset '{manifest.Id}' is not here; using '{substitute.Id}' ({substitute.Title}) in its place: " +
                                    "other bytes, so its numbers are keyed by its own data identity");
            return substitute;
        });
    }

    /// <summary>The manifest's instructions plus its URLs, for error messages.</summary>
    public static string HowToGet(DatasetManifest manifest)
    {
        var urls = manifest.Source.Downloads.Select(d => d.Url).ToList();
        return $"To get it: {manifest.Source.Instructions.Trim()}" +
               (urls.Count > 0 ? $" Upstream: {string.Join(", ", urls)}." : "") +
               (manifest.Source.Homepage != null ? $" See {manifest.Source.Homepage}." : "") +
               $" Or point {DataRoot.Variable} at a data root holding {manifest.Path}/ (manifest: {manifest.ManifestFile}).";
    }

    private static bool HasAnyFile(DatasetManifest manifest, string folder) =>
        Directory.Exists(folder) && manifest.Files.Any(f => File.Exists(Path.Combine(folder, f.Path)));
}
