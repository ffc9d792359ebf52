using Smec.Core.Data;
using Smec.Core.Data.Images;
using Smec.Core.Data.Manifests;
using Smec.Core.Data.Text;
using Smec.Core.Encoders;
using Smec.Core.Runtime;

namespace Smec.Core.Storage;

/// <summary>Options of <see cref="EmbeddingStore.GetOrBuild"/>.</summary>
public sealed record EncodeOptions
{
    /// <summary>A dataset folder or data root (see <see cref="DatasetLocator"/>).</summary>
    public string? DataPath { get; init; }
    /// <summary>Draw a progress bar on stderr for parts that must be encoded.</summary>
    public bool ShowProgress { get; init; } = true;
    /// <summary>Only these parts (e.g. ["test"]); all the dataset has when null.</summary>
    public IReadOnlyList<string>? Parts { get; init; }
    /// <summary>Image classes: split -> images per class to keep (see <see cref="ClassBalancedSubset"/>); a split not named keeps all.</summary>
    public IReadOnlyDictionary<string, int>? PerClass { get; init; }
    public long SubsetSeed { get; init; }
    public ManifestCatalog? Catalog { get; init; }
    public EmbeddingCache? Cache { get; init; }
    /// <summary>Where messages about rejected cache entries go (default stderr).</summary>
    public TextWriter? Log { get; init; }
}

/// <summary>
/// The one call the catalog makes for embeddings: <see cref="GetOrBuild"/> returns the
/// embeddings of a dataset under an encoder, taking them, in order of preference, from the
/// mirror's precomputed files when their key matches, from the embedding cache when its files
/// verify, or by encoding (then caching). Precomputed encoders read the user's files instead.
/// </summary>
public static class EmbeddingStore
{
    /// <summary>One part to produce: its ids (in row order), labels if any, and how to encode it.</summary>
    private sealed record PartPlan(string Name, IReadOnlyList<string> Ids, int[]? Labels, Func<IEncoder, IProgress<int>?, float[]> Encode);

    public static EncodedDataset GetOrBuild(string datasetId, string encoderId, EncodeOptions? options = null)
    {
        options ??= new EncodeOptions();
        var catalog = options.Catalog ?? ManifestCatalog.Default;
        var dataset = catalog.Dataset(datasetId);
        var encoder = catalog.Encoder(encoderId);
        if (encoder.Kind == "precomputed") return LoadPrecomputed(dataset, encoder, options);
        dataset = DatasetLocator.Effective(dataset, options.DataPath);

        var location = DatasetLocator.Locate(dataset, options.DataPath);
        var loadOptions = new DataLoadOptions { ExplicitPath = location.Folder, Catalog = catalog };
        var (plans, classNames) = Plan(dataset, encoder, loadOptions, options);
        var key = new EmbeddingKey(dataset.Id, dataset.Format, DatasetFileSums(dataset, location.Folder),
            encoder.Id, encoder.Settings.Canonical(), Selection(options, plans));
        var labels = plans.Where(p => p.Labels != null).ToDictionary(p => p.Name, p => p.Labels!);

        var mirrored = TryMirror(catalog, dataset, encoder, key, plans, options.Log ?? Console.Error);
        if (mirrored != null)
            return new EncodedDataset(dataset.Id, encoder.Id, key.Hash(), mirrored.Value.Folder, mirrored.Value.Parts,
                plans.ToDictionary(p => p.Name, _ => "mirror"), labels, classNames);

        var cache = options.Cache ?? EmbeddingCache.Default();
        var parts = new Dictionary<string, EmbeddingMatrix>();
        var origins = new Dictionary<string, string>();
        IEncoder? model = null;
        try
        {
            foreach (var plan in plans)
            {
                var cached = cache.TryRead(key, plan.Name, plan.Ids, out var why);
                if (why != null) (options.Log ?? Console.Error).WriteLine($"smec: rebuilding cached {dataset.Id}/{encoder.Id}/{plan.Name}: {why}");
                if (cached != null)
                {
                    parts[plan.Name] = cached;
                    origins[plan.Name] = "cache";
                    continue;
                }
                if (model == null && options.ShowProgress)
                    (options.Log ?? Console.Error).WriteLine(
                        $"smec: no precomputed or cached {encoder.Id} embeddings of {dataset.Id} here: encoding them now " +
                        $"({string.Join(", ", plans.Select(p => $"{p.Ids.Count} {p.Name}"))}; a few minutes on 2 cores for a " +
                        $"dataset of this size, once: cached in {cache.Folder(key)})");
                if (model == null) cache.RequireWritable(key); // before encoding, not after minutes of it
                model ??= EncoderFactory.Create(encoder);
                var progress = options.ShowProgress ? new ProgressBar($"encoding {dataset.Id}/{plan.Name} with {encoder.Id} (once, then cached)", plan.Ids.Count) : null;
                var matrix = new EmbeddingMatrix(plan.Ids, plan.Encode(model, progress), model.Dim);
                cache.Write(key, plan.Name, matrix);
                parts[plan.Name] = matrix;
                origins[plan.Name] = "built";
            }
        }
        finally
        {
            model?.Dispose();
        }
        return new EncodedDataset(dataset.Id, encoder.Id, key.Hash(), cache.Folder(key), parts, origins, labels, classNames);
    }

    /// <summary>The dataset files that enter the key: the copy's own checksums (its data identity), never the pinned ones.</summary>
    public static IReadOnlyList<(string Path, string Sha256)> DatasetFileSums(DatasetManifest dataset, string folder) =>
        DataIdentity.Of(dataset, folder).Files;

    private static (List<PartPlan> Plans, IReadOnlyList<string> ClassNames) Plan(
        DatasetManifest dataset, EncoderManifest encoder, DataLoadOptions loadOptions, EncodeOptions options)
    {
        var plans = new List<PartPlan>();
        IReadOnlyList<string> classNames = [];
        bool text = encoder.Modality is "text" or "multimodal", image = encoder.Modality is "image" or "multimodal";
        switch (dataset.Kind)
        {
            case "text-retrieval" when text:
            {
                var data = DatasetLoader.LoadText(dataset, loadOptions);
                var join = encoder.Settings.DocumentJoin ?? " ";
                plans.Add(TextPlan("corpus", data.Corpus.Select(d => d.Id).ToList(), data.Corpus.Select(d => d.Joined(join)).ToList(), EncodeRole.Document));
                plans.Add(TextPlan("queries", data.Queries.Select(q => q.Id).ToList(), data.Queries.Select(q => q.Text).ToList(), EncodeRole.Query));
                break;
            }
            case "image-classification" when image:
            {
                var data = DatasetLoader.LoadImageClasses(dataset, loadOptions);
                classNames = data.ClassNames;
                foreach (var (split, all) in data.Splits)
                {
                    var items = options.PerClass != null && options.PerClass.TryGetValue(split, out var n)
                        ? ClassBalancedSubset.Select(all, n, options.SubsetSeed) : all;
                    var ids = items.Select(i => i.Id).ToList();
                    var wanted = items.Count == all.Count ? null : ids.ToHashSet(StringComparer.Ordinal);
                    plans.Add(new PartPlan(split, ids, items.Select(i => i.Label).ToArray(),
                        (model, progress) => EncodeImages(model, data.ReadImages(split, wanted), ids, progress)));
                }
                break;
            }
            case "image-captions" when text || image:
            {
                var data = DatasetLoader.LoadCaptioned(dataset, loadOptions);
                if (image)
                    plans.Add(new PartPlan("images", data.ImageIds, null,
                        (model, progress) => EncodeImages(model, data.ReadImages(), data.ImageIds, progress)));
                if (text)
                    // Captions are what a user types: the query side of text->image retrieval.
                    plans.Add(TextPlan("captions", data.Captions.Select(c => c.Id).ToList(), data.Captions.Select(c => c.Text).ToList(), EncodeRole.Query));
                break;
            }
            default:
                throw new ArgumentException(
                    $"encoder '{encoder.Id}' ({encoder.Modality}) cannot encode dataset '{dataset.Id}' ({dataset.Kind})");
        }
        if (options.Parts != null)
        {
            var unknown = options.Parts.Where(p => plans.All(x => x.Name != p)).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"dataset '{dataset.Id}' under '{encoder.Id}' has no part(s) {string.Join(", ", unknown)} (parts: {string.Join(", ", plans.Select(p => p.Name))})");
            plans = plans.Where(p => options.Parts.Contains(p.Name)).ToList();
        }
        return (plans, classNames);
    }

    private static PartPlan TextPlan(string name, IReadOnlyList<string> ids, IReadOnlyList<string> texts, EncodeRole role) =>
        new(name, ids, null, (model, progress) =>
            (model as ITextEncoder ?? throw new ArgumentException($"encoder '{model.Id}' does not encode text")).Encode(texts, role, progress));

    /// <summary>Encode streamed images, then put the rows in the order of <paramref name="ids"/>.</summary>
    private static float[] EncodeImages(IEncoder model, IEnumerable<(string Id, RgbImage Image)> images,
        IReadOnlyList<string> ids, IProgress<int>? progress)
    {
        var imageEncoder = model as IImageEncoder ?? throw new ArgumentException($"encoder '{model.Id}' does not encode images");
        var streamed = new List<string>(ids.Count);
        var values = imageEncoder.Encode(images.Select(x => { streamed.Add(x.Id); return x.Image; }), ids.Count, progress);
        var matrix = new EmbeddingMatrix(streamed, values, model.Dim);
        return streamed.SequenceEqual(ids) ? values : matrix.Select(ids).Values;
    }

    private static string? Selection(EncodeOptions options, List<PartPlan> plans)
    {
        if (options.PerClass == null || options.PerClass.Count == 0) return null;
        var used = options.PerClass.Where(p => plans.Any(x => x.Name == p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal);
        return $"class-balanced seed={options.SubsetSeed} " + string.Join(" ", used.Select(p => $"{p.Key}={p.Value}/class"));
    }

    /// <summary>The mirror's precomputed embeddings, when a manifest declares them for this pair and their key matches.</summary>
    private static (string Folder, Dictionary<string, EmbeddingMatrix> Parts)? TryMirror(
        ManifestCatalog catalog, DatasetManifest dataset, EncoderManifest encoder, EmbeddingKey key, List<PartPlan> plans, TextWriter log)
    {
        foreach (var mirror in catalog.Embeddings.Where(e => e.Dataset == dataset.Id && e.Encoder == encoder.Id))
        {
            var mirrorKey = new EmbeddingKey(dataset.Id, dataset.Format, mirror.DatasetFiles.Select(p => (p.Key, p.Value)).ToList(),
                encoder.Id, mirror.Settings.Canonical());
            if (mirrorKey.Hash() != key.Hash() || plans.Any(p => !mirror.Parts.ContainsKey(p.Name))) continue;
            foreach (var root in DataRoot.Candidates())
            {
                var folder = Path.Combine(root.Path, mirror.Path);
                if (!Directory.Exists(folder)) continue;
                try
                {
                    var parts = new Dictionary<string, EmbeddingMatrix>();
                    foreach (var plan in plans)
                    {
                        var files = mirror.Parts[plan.Name];
                        foreach (var f in new[] { files.Npy, files.Ids })
                        {
                            var path = Path.Combine(folder, f.Path);
                            if (!File.Exists(path)) throw new InvalidDataException($"{path}: missing");
                            var sha = FileChecksums.Sha256(path);
                            if (sha != f.Sha256) throw new InvalidDataException($"{path}: SHA-256 {sha}, {mirror.ManifestFile} expects {f.Sha256}");
                        }
                        var matrix = Npy.ReadEmbeddings(Path.Combine(folder, files.Npy.Path), Path.Combine(folder, files.Ids.Path));
                        if (matrix.Rows != files.Rows || matrix.Dim != files.Dim)
                            throw new InvalidDataException($"{folder}/{files.Npy.Path}: {matrix.Rows}x{matrix.Dim}, {mirror.ManifestFile} says {files.Rows}x{files.Dim}");
                        parts[plan.Name] = matrix.Ids.SequenceEqual(plan.Ids) ? matrix : matrix.Select(plan.Ids);
                    }
                    return (folder, parts);
                }
                catch (Exception e) when (e is InvalidDataException or IOException or KeyNotFoundException)
                {
                    log.WriteLine($"smec: not using the mirror's {dataset.Id}/{encoder.Id} embeddings: {e.Message}");
                }
            }
        }
        return null;
    }

    private static EncodedDataset LoadPrecomputed(DatasetManifest dataset, EncoderManifest encoder, EncodeOptions options)
    {
        var names = dataset.Kind switch
        {
            "text-retrieval" => new[] { "corpus", "queries" },
            "image-classification" => ["train", "test"],
            _ => encoder.Modality switch { "image" => ["images"], "text" => ["captions"], _ => ["images", "captions"] },
        };
        if (options.Parts != null) names = names.Where(options.Parts.Contains).ToArray();
        var reader = new PrecomputedEncoder(encoder);
        var parts = names.ToDictionary(n => n, n => reader.Load(dataset.Id, n));
        var folder = reader.Roots().Select(r => Path.Combine(r, dataset.Id, encoder.Id)).FirstOrDefault(Directory.Exists) ?? "";
        // Where the dataset itself is here, the supplied ids must cover the dataset's.
        if (dataset.Format != "external" && dataset.Kind == "text-retrieval")
        {
            TextRetrievalDataset? data = null;
            try { data = DatasetLoader.LoadText(dataset, new DataLoadOptions { ExplicitPath = options.DataPath, Catalog = options.Catalog, AllowDownload = false }); }
            catch (DataUnavailableException) { (options.Log ?? Console.Error).WriteLine($"smec: dataset '{dataset.Id}' is not here; its supplied ids are not checked"); }
            if (data != null)
            {
                CheckIds(parts, "corpus", data.Corpus.Select(d => d.Id));
                CheckIds(parts, "queries", data.Queries.Select(q => q.Id));
            }
        }
        return new EncodedDataset(dataset.Id, encoder.Id, "precomputed", folder, parts,
            names.ToDictionary(n => n, _ => "precomputed"), new Dictionary<string, int[]>(), dataset.Classes);
    }

    private static void CheckIds(Dictionary<string, EmbeddingMatrix> parts, string part, IEnumerable<string> expected)
    {
        if (!parts.TryGetValue(part, out var matrix)) return;
        var have = matrix.Ids.ToHashSet(StringComparer.Ordinal);
        var missing = expected.FirstOrDefault(id => !have.Contains(id));
        if (missing != null)
            throw new InvalidDataException($"supplied {part} embeddings have no row for id '{missing}' (and maybe others)");
    }
}
