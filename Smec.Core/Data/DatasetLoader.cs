using Smec.Core.Data.Images;
using Smec.Core.Data.Manifests;
using Smec.Core.Data.Text;

namespace Smec.Core.Data;

/// <summary>How to find and check a dataset.</summary>
public sealed record DataLoadOptions
{
    /// <summary>A dataset folder, or a data root that holds it; when given, nothing else is tried.</summary>
    public string? ExplicitPath { get; init; }
    /// <summary>Check every pinned SHA-256 before parsing (about a second for all local data).</summary>
    public bool VerifyChecksums { get; init; } = true;
    public bool AllowDownload { get; init; } = true;
    /// <summary>Where manifests come from; default <see cref="ManifestCatalog.Default"/>.</summary>
    public ManifestCatalog? Catalog { get; init; }

    public static readonly DataLoadOptions Default = new();
}

/// <summary>
/// The one entry point for datasets: locate (see <see cref="DatasetLocator"/>), verify checksums,
/// parse with the format's loader, and check every count the manifest gives. A copy just
/// downloaded that fails is removed, so the next run downloads afresh.
/// </summary>
public static class DatasetLoader
{
    public static TextRetrievalDataset LoadText(string datasetId, DataLoadOptions? options = null) =>
        LoadText(Manifest(datasetId, options), options);

    public static TextRetrievalDataset LoadText(DatasetManifest manifest, DataLoadOptions? options = null)
    {
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
        RequireKind(manifest, "image-classification");
        return Load(manifest, options, folder =>
        {
            var dataset = manifest.Format switch
            {
                "idx" => IdxLoader.Load(manifest, folder),
                "jpeg-tar" => JpegTarLoader.Load(manifest, folder),
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
        RequireKind(manifest, "image-captions");
        return Load(manifest, options, folder =>
        {
            var dataset = manifest.Format == "flickr-captions" ? FlickrLoader.Load(manifest, folder) : throw Unloadable(manifest);
            CountCheck.Captioned(manifest, folder, dataset);
            return dataset;
        });
    }

    /// <summary>Load a dataset of any kind (checksums and counts verified) and say what was found.</summary>
    public static DatasetReport Verify(DatasetManifest manifest, DataLoadOptions? options = null)
    {
        var location = DatasetLocator.Locate(manifest, options?.ExplicitPath, options?.AllowDownload ?? true);
        var pinned = manifest.Files.Count(f => f.Sha256 != null);
        var opts = (options ?? DataLoadOptions.Default) with { ExplicitPath = location.Folder };
        string summary = manifest.Kind switch
        {
            "text-retrieval" => Summarise(LoadText(manifest, opts)),
            "image-classification" => Summarise(LoadImageClasses(manifest, opts)),
            "image-captions" => Summarise(LoadCaptioned(manifest, opts)),
            _ => throw Unloadable(manifest),
        };
        return new DatasetReport(manifest.Id, location, pinned, summary);
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
            if (options.VerifyChecksums) FileChecksums.Verify(manifest, location.Folder);
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
public sealed record DatasetReport(string DatasetId, DatasetLocation Location, int ChecksumsVerified, string Summary);
