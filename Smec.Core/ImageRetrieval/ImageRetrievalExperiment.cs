using System.Diagnostics;
using Smec.Core.Methods;
using Smec.Core.Runtime;
using Smec.Core.Storage;

namespace Smec.Core.ImageRetrieval;

/// <summary>The encoded train and test subsets of one image dataset, and how they were obtained.</summary>
public sealed record ImageFeatures(
    ImageRetrievalConfig Config, LabelledEmbeddings Train, LabelledEmbeddings Test, IReadOnlyList<string> ClassNames,
    string CacheKey, IReadOnlyDictionary<string, string> Origins, double Seconds)
{
    public int EncoderDim => Train.Embeddings.Dim;
}

/// <summary>One method at one dim on the test gallery.</summary>
public sealed record ImageDimResult(int Dim, ClassRetrievalMetrics Metrics);

/// <summary>One method on one dataset: per-dim figures, the settings it chose, and timings.</summary>
public sealed record ImageRetrievalResult(
    string Dataset, string Method, long Seed, IReadOnlyList<ImageDimResult> PerDim,
    IReadOnlyDictionary<string, string> Settings, double FitSeconds, double EvaluateSeconds)
{
    public ClassRetrievalMetrics At(int dim) =>
        PerDim.FirstOrDefault(r => r.Dim == dim)?.Metrics ?? throw new KeyNotFoundException($"{Method} on {Dataset} was not evaluated at {dim} dims");
}

/// <summary>
/// Catalog item 4, local profile: image retrieval with class labels as relevance. Compressors
/// learn on a class-balanced training subset (query = an image, positives = same-class training
/// images); every image of the test subset then queries the rest of the test gallery, compressed
/// to each dim. The test images never reach Fit.
/// </summary>
public static class ImageRetrievalExperiment
{
    /// <summary>The ResNet18 features of the configured subsets, from the embedding cache or encoded now (with a progress bar).</summary>
    public static ImageFeatures LoadFeatures(ImageRetrievalConfig config, bool progress = true)
    {
        var clock = Stopwatch.StartNew();
        var encoded = EmbeddingStore.GetOrBuild(config.Dataset, config.Encoder, new EncodeOptions
        {
            DataPath = config.DataPath,
            ShowProgress = progress,
            Parts = ["train", "test"],
            PerClass = new Dictionary<string, int> { ["train"] = config.TrainPerClass, ["test"] = config.TestPerClass },
            SubsetSeed = config.SubsetSeed,
        });
        LabelledEmbeddings Part(string name) => new(encoded.Part(name), encoded.Labels.TryGetValue(name, out var labels) ? labels
            : throw new InvalidDataException($"{config.Dataset}/{config.Encoder}: part '{name}' has no class labels"));
        return new ImageFeatures(config, Part("train"), Part("test"), encoded.ClassNames, encoded.Key, encoded.Origins, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Load the features, then fit and evaluate one method. <paramref name="createMethod"/> builds a
    /// fresh, unfitted method for (dims, input dim), e.g. <c>(dims, _) =&gt; new Pca(dims)</c>.
    /// </summary>
    public static ImageRetrievalResult Run(ImageRetrievalConfig config, Func<IReadOnlyList<int>, int, ICompressor> createMethod, long seed, bool progress = true) =>
        Run(LoadFeatures(config, progress), createMethod, seed);

    /// <summary>Fit one method on the training subset and evaluate it at every configured dim on the test gallery.</summary>
    public static ImageRetrievalResult Run(ImageFeatures features, Func<IReadOnlyList<int>, int, ICompressor> createMethod, long seed)
    {
        var config = features.Config;
        var tooWide = config.Dims.Where(d => d > features.EncoderDim).ToArray();
        if (tooWide.Length > 0)
            throw new ArgumentException($"dims {string.Join(", ", tooWide)} exceed the {features.EncoderDim}-d {config.Encoder} features");
        var data = ClassRelevanceTraining.Build(features.Train, config.ValidationPerClass, seed);
        Determinism.Seed(seed); // methods initialise their weights from the global generator
        var method = createMethod(config.Dims, features.EncoderDim);
        var clock = Stopwatch.StartNew();
        method.Fit(data);
        var fitSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var perDim = config.Dims.Select(dim => new ImageDimResult(dim, Evaluate(method, features.Test, dim))).ToArray();
        var settings = new SortedDictionary<string, string>(config.Describe().ToDictionary(kv => kv.Key, kv => kv.Value));
        foreach (var (key, value) in method.Settings) settings[$"method.{key}"] = value;
        settings["features.key"] = features.CacheKey;
        return new ImageRetrievalResult(config.Dataset, method.Name, seed, perDim, settings, fitSeconds, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The test gallery compressed by a fitted method (as queries and as documents), scored with class relevance.</summary>
    public static ClassRetrievalMetrics Evaluate(ICompressor method, LabelledEmbeddings gallery, int dim) =>
        ClassRelevanceEvaluation.Evaluate(
            method.Compress(gallery.Embeddings, dim, EmbeddingRole.Query),
            method.Compress(gallery.Embeddings, dim, EmbeddingRole.Document),
            gallery.Labels);
}
