using System.Diagnostics;
using Smec.Core.Data;
using Smec.Core.Storage;

namespace Smec.Core.Multimodal;

/// <summary>Frozen-encoder features of the whole captioned dataset, and how they were obtained.</summary>
public sealed record MultimodalFeatures(
    MultimodalConfig Config, CaptionedFeatures Raw, string ImageKey, string TextKey, IReadOnlyDictionary<string, string> Origins, double Seconds);

/// <summary>The trained joint space and the compressors' parts projected into it: what the compressors start from.</summary>
public sealed record JointSpacePrepared(
    MultimodalConfig Config, ImageSplit Split, JointSpaceReport Report,
    CaptionedFeatures CompressorTrain, CaptionedFeatures Validation, CaptionedFeatures Test);

/// <summary>
/// Catalog item 5, local profile: Flickr8k-1k images (ResNet18) and captions (MiniLM), a learned
/// joint space fitted on its own training images, and every compression method fitted on the joint
/// embeddings of other training images (see <see cref="ImageSplit"/>); text -> image and
/// image -> text retrieval on the held-out images are the two panels.
/// Each panel trains its own compressor (queries and documents swap modality). This class loads the
/// features and prepares the joint space; the catalog's runner fits and evaluates the methods
/// (Smec.Experiments, Running/ImageDatasets.fs).
/// </summary>
public static class MultimodalExperiment
{
    public static MultimodalFeatures LoadFeatures(MultimodalConfig config, bool progress = true)
    {
        var clock = Stopwatch.StartNew();
        var images = EmbeddingStore.GetOrBuild(config.Dataset, config.ImageEncoder,
            new EncodeOptions { DataPath = config.DataPath, ShowProgress = progress, Parts = ["images"] });
        var captions = EmbeddingStore.GetOrBuild(config.Dataset, config.TextEncoder,
            new EncodeOptions { DataPath = config.DataPath, ShowProgress = progress, Parts = ["captions"] });
        // Which image each caption describes comes from the dataset's captions file, not from the ids' form.
        var dataset = DatasetLoader.LoadCaptioned(config.Dataset, new DataLoadOptions { ExplicitPath = config.DataPath });
        var imageOf = dataset.Captions.ToDictionary(c => c.Id, c => c.ImageId, StringComparer.Ordinal);
        var captionMatrix = captions.Part("captions");
        var captionImages = captionMatrix.Ids.Select(id => imageOf.TryGetValue(id, out var image) ? image
            : throw new InvalidDataException($"{config.Dataset}/{config.TextEncoder}: caption '{id}' is not in the dataset's captions")).ToArray();
        var origins = new Dictionary<string, string>
        {
            ["images"] = images.Origins["images"],
            ["captions"] = captions.Origins["captions"],
        };
        return new MultimodalFeatures(config, new CaptionedFeatures(images.Part("images"), captionMatrix, captionImages),
            images.Key, captions.Key, origins, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Split by image, train the joint space on its training images, and project the compressors' parts into it.</summary>
    public static JointSpacePrepared PrepareJointSpace(MultimodalFeatures features)
    {
        var config = features.Config;
        var split = ImageSplit.Make(features.Raw.Images.Ids, config.JointTrainImages, config.CompressorTrainImages,
            config.ValidationImages, config.TestImages, config.SplitSeed);
        var tooWide = config.Dims.Where(d => d > config.Joint.Dim).ToArray();
        if (tooWide.Length > 0)
            throw new ArgumentException($"dims {string.Join(", ", tooWide)} exceed the {config.Joint.Dim}-d joint space");
        var report = JointSpace.TrainAndEvaluate(features.Raw, split, config.Joint, config.JointSeed);
        CaptionedFeatures Project(IReadOnlyList<string> ids) => JointSpace.Embed(report.Training.Model, features.Raw.Subset(ids));
        return new JointSpacePrepared(config, split, report, Project(split.CompressorTrain), Project(split.Validation), Project(split.Test));
    }
}
