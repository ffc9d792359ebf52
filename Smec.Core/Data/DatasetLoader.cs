using Smec.Core.Data.Images;
using Smec.Core.Data.Manifests;
using Smec.Core.Data.Text;

namespace Smec.Core.Data;

/// <summary>How to find and check a dataset.</summary>
public sealed record DataLoadOptions
{
    /// <summary>A dataset folder, or a data root that holds it; when given, nothing else is tried.</summary>
    public string? ExplicitPath { get; init; }
    /// <summary>
    /// Compute the copy's data identity before parsing (about a second for all local data) and
    /// say on stderr, once per folder, when its bytes differ from the reference copy's.
    /// </summary>
    public bool VerifyChecksums { get; init; } = true;
    public bool AllowDownload { get; init; } = true;
    /// <summary>Where manifests come from; default <see cref="ManifestCatalog.Default"/>.</summary>
    public ManifestCatalog? Catalog { get; init; }

    public static readonly DataLoadOptions Default = new();
}

/// <summary>
/// The one entry point for datasets: locate (see <see cref="DatasetLocator"/>), compute the
/// copy's data identity, parse with the format's loader, and check every count the manifest
/// gives. A copy whose bytes differ from the reference copy's is used when its counts verify;
/// its identity (not the reference's) then keys its embeddings and results.
/// </summary>
public static class DatasetLoader
{
    public static TextRetrievalDataset LoadText(string datasetId, DataLoadOptions? options = null) =>
        LoadText(Manifest(datasetId, options), options);

    public static TextRetrievalDataset LoadText(DatasetManifest manifest, DataLoadOptions? options = null)
    {
        manifest = DatasetLocator.Effective(manifest, options?.ExplicitPath);
        RequireKind(manifest, "text-retrieval");
        return Load(manifest, options, folder =>
        {
            var dataset = manifest.Format switch
            {
                "beir" => BeirLoader.Load(manifest, folder),
                "cranfield" => SmartLoader.LoadCranfield(manifest, folder),
                "cacm" => SmartLoader.LoadCacm(manifest, folder),
                _ => throw Unloadable(manifest),
            };
            CountCheck.Text(manifest, folder, dataset);
            return dataset;
        });
    }

    public static ImageClassDataset LoadImageClasses(string datasetId, DataLoadOptions? options = null) =>
        LoadImageClasses(Manifest(datasetId, options), options);

    public static ImageClassDataset LoadImageClasses(DatasetManifest manifest, DataLoadOptions? options = null)
    {
        manifest = DatasetLocator.Effective(manifest, options?.ExplicitPath);
        RequireKind(manifest, "image-classification");
        return Load(manifest, options, folder =>
        {
            var dataset = manifest.Format switch
            {
                "idx" => IdxLoader.Load(manifest, folder),
                "jpeg-tar" => JpegTarLoader.Load(manifest, folder),
                "cifar-binary" => CifarBinaryLoader.Load(manifest, folder),
                _ => throw Unloadable(manifest),
            };
            CountCheck.ImageClasses(manifest, folder, dataset);
            return dataset;
        });
    }

    public static CaptionedImageDataset LoadCaptioned(string datasetId, DataLoadOptions? options = null) =>
        LoadCaptioned(Manifest(datasetId, options), options);

    public static CaptionedImageDataset LoadCaptioned(DatasetManifest manifest, DataLoadOptions? options = null)
    {
        manifest = DatasetLocator.Effective(manifest, options?.ExplicitPath);
        RequireKind(manifest, "image-captions");
        return Load(manifest, options, folder =>
        {
            var dataset = manifest.Format == "flickr-captions" ? FlickrLoader.Load(manifest, folder) : throw Unloadable(manifest);
            CountCheck.Captioned(manifest, folder, dataset);
            return dataset;
        });
    }

    /// <summary>Load a dataset of any kind (counts verified, identity computed) and say what was found.</summary>
    public static DatasetReport Verify(DatasetManifest manifest, DataLoadOptions? options = null)
    {
        var location = DatasetLocator.Locate(manifest, options?.ExplicitPath, options?.AllowDownload ?? true);
        var identity = FileChecksums.Verify(manifest, location.Folder);
        var opts = (options ?? DataLoadOptions.Default) with { ExplicitPath = location.Folder, VerifyChecksums = false };
        string summary = manifest.Kind switch
        {
            "text-retrieval" => Summarise(LoadText(manifest, opts)),
            "image-classification" => Summarise(LoadImageClasses(manifest, opts)),
            "image-captions" => Summarise(LoadCaptioned(manifest, opts)),
            _ => throw Unloadable(manifest),
        };
        return new DatasetReport(manifest.Id, location, identity, summary);
    }

    /// <summary>Parse the copy in <paramref name="folder"/> and check its counts (a download, before it is moved into place).</summary>
    public static void CheckFolder(DatasetManifest manifest, string folder)
    {
        var options = new DataLoadOptions { ExplicitPath = folder, AllowDownload = false, VerifyChecksums = false };
        try
        {
            _ = manifest.Kind switch
            {
                "text-retrieval" => (object)LoadText(manifest, options),
                "image-classification" => LoadImageClasses(manifest, options),
                "image-captions" => LoadCaptioned(manifest, options),
                _ => throw Unloadable(manifest),
            };
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new DataVerificationException($"{folder}: dataset '{manifest.Id}' does not parse: {e.Message}", e);
        }
    }

    /// <summary>The data identity of the copy the locator finds, or its substitute's (no parsing).</summary>
    public static DataIdentity Identity(DatasetManifest manifest, DataLoadOptions? options = null)
    {
        options ??= DataLoadOptions.Default;
        manifest = DatasetLocator.Effective(manifest, options.ExplicitPath);
        var location = DatasetLocator.Locate(manifest, options.ExplicitPath, options.AllowDownload);
        return FileChecksums.Verify(manifest, location.Folder);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Noted = new();

    /// <summary>Say once per folder and identity that a copy is not the reference copy.</summary>
    private static void NoteIdentity(DatasetManifest manifest, DatasetLocation location, DataIdentity identity)
    {
        if (identity.IsReference || !Noted.TryAdd($"{location.Folder}|{identity.Hash}", true)) return;
        var pinned = manifest.Files.Any(f => f.Sha256 != null);
        Console.Error.WriteLine(pinned
            ? $"smec: dataset '{manifest.Id}' at {location.Folder} ({location.Rule}) has {identity.Describe()}; it is used because its counts " +
              "verify, and its embeddings and results are keyed by its own checksums (the reference copy's blessed values do not apply)"
            : $"smec: dataset '{manifest.Id}' at {location.Folder} ({location.Rule}): data identity {identity.Hash}");
    }

    private static string Summarise(TextRetrievalDataset d) =>
        $"{d.Corpus.Count} docs, {d.Queries.Count} queries; " +
        string.Join("; ", d.QrelsBySplit.Select(s => $"{s.Key}: {s.Value.QueryCount} judged queries / {d.QrelsRowsBySplit[s.Key]} qrels"));

    private static string Summarise(ImageClassDataset d) =>
        $"{d.ClassNames.Count} classes; " + string.Join("; ", d.Splits.Select(s => $"{s.Key}: {s.Value.Count} images"));

    private static string Summarise(CaptionedImageDataset d) => $"{d.ImageIds.Count} images, {d.Captions.Count} captions";

    private static DatasetManifest Manifest(string datasetId, DataLoadOptions? options) =>
        (options?.Catalog ?? ManifestCatalog.Default).Dataset(datasetId);

    private static T Load<T>(DatasetManifest manifest, DataLoadOptions? options, Func<string, T> parse)
    {
        options ??= DataLoadOptions.Default;
        var location = DatasetLocator.Locate(manifest, options.ExplicitPath, options.AllowDownload);
        try
        {
            if (options.VerifyChecksums) NoteIdentity(manifest, location, FileChecksums.Verify(manifest, location.Folder));
            return parse(location.Folder);
        }
        catch (DataVerificationException) when (location.Downloaded)
        {
            Directory.Delete(location.Folder, recursive: true); // never keep a download that failed verification
            throw;
        }
    }

    private static void RequireKind(DatasetManifest manifest, string kind)
    {
        if (manifest.Kind != kind)
            throw new ArgumentException($"dataset '{manifest.Id}' is {manifest.Kind} data, not {kind} ({manifest.ManifestFile})");
    }

    private static Exception Unloadable(DatasetManifest manifest) =>
        new DataUnavailableException(
            $"dataset '{manifest.Id}' has format '{manifest.Format}', which the harness does not parse: " +
            $"supply its embeddings with a precomputed encoder instead. {DatasetLocator.HowToGet(manifest)}");
}

/// <summary>What <see cref="DatasetLoader.Verify"/> found.</summary>
public sealed record DatasetReport(string DatasetId, DatasetLocation Location, DataIdentity Identity, string Summary);
