using System.Diagnostics;
using Smec.Core.Storage;

namespace Smec.Core.ImageRetrieval;

/// <summary>The encoded train and test subsets of one image dataset, and how they were obtained.</summary>
public sealed record ImageFeatures(
    ImageRetrievalConfig Config, LabelledEmbeddings Train, LabelledEmbeddings Test, IReadOnlyList<string> ClassNames,
    string CacheKey, IReadOnlyDictionary<string, string> Origins, double Seconds)
{
    public int EncoderDim => Train.Embeddings.Dim;
}

/// <summary>
/// Catalog item 4, local profile: image retrieval with class labels as relevance. Compressors
/// learn on a class-balanced training subset (query = an image, positives = same-class training
/// images); every image of the test subset then queries the rest of the test gallery, compressed
/// to each dim. The test images never reach Fit. This class loads the features; the catalog's
/// runner fits and evaluates the methods (Smec.Experiments, Running/ImageDatasets.fs).
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
}
