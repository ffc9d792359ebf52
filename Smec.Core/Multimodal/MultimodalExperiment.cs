using System.Diagnostics;
using Smec.Core.Data;
using Smec.Core.Methods;
using Smec.Core.Runtime;
using Smec.Core.Storage;

namespace Smec.Core.Multimodal;

/// <summary>Frozen-encoder features of the whole captioned dataset, and how they were obtained.</summary>
public sealed record MultimodalFeatures(
    MultimodalConfig Config, CaptionedFeatures Raw, string ImageKey, string TextKey, IReadOnlyDictionary<string, string> Origins, double Seconds);

/// <summary>The trained joint space and the compressors' parts projected into it: what the compressors start from.</summary>
public sealed record JointSpacePrepared(
    MultimodalConfig Config, ImageSplit Split, JointSpaceReport Report,
    CaptionedFeatures CompressorTrain, CaptionedFeatures Validation, CaptionedFeatures Test);

/// <summary>One method at one dim in one direction, on the held-out images.</summary>
public sealed record CrossModalDimResult(int Dim, CrossModalMetrics Metrics);

/// <summary>One method in both directions (the two panels): per-dim figures, settings and timings.</summary>
public sealed record MultimodalResult(
    string Method, long Seed, IReadOnlyList<CrossModalDimResult> TextToImage, IReadOnlyList<CrossModalDimResult> ImageToText,
    IReadOnlyDictionary<string, string> Settings, double FitSeconds, double EvaluateSeconds)
{
    public IReadOnlyList<CrossModalDimResult> Panel(CrossModalDirection direction) =>
        direction == CrossModalDirection.TextToImage ? TextToImage : ImageToText;
}

/// <summary>
/// Catalog item 5, local profile: Flickr8k-1k images (ResNet18) and captions (MiniLM), a learned
/// joint space fitted on its own training images, and every compression method fitted on the joint
/// embeddings of other training images (see <see cref="ImageSplit"/>); text -> image and
/// image -> text retrieval on the held-out images are the two panels.
/// Each panel trains its own compressor (queries and documents swap modality).
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

    /// <summary>Fit one method per direction on the joint embeddings of the compressor-training images; evaluate every dim on the held-out images.</summary>
    public static MultimodalResult Run(JointSpacePrepared prepared, Func<IReadOnlyList<int>, int, ICompressor> createMethod, long seed)
    {
        var dims = prepared.Config.Dims;
        var settings = new SortedDictionary<string, string>(prepared.Config.Describe().ToDictionary(kv => kv.Key, kv => kv.Value));
        double fitSeconds = 0, evaluateSeconds = 0;
        string name = "";
        IReadOnlyList<CrossModalDimResult> Panel(CrossModalDirection direction)
        {
            var data = CrossModalTraining.Build(prepared.CompressorTrain, prepared.Validation, direction, seed);
            Determinism.Seed(seed);
            var method = createMethod(dims, prepared.Config.Joint.Dim);
            name = method.Name;
            var clock = Stopwatch.StartNew();
            method.Fit(data);
            fitSeconds += clock.Elapsed.TotalSeconds;
            clock.Restart();
            var test = prepared.Test;
            var (queries, docs) = direction == CrossModalDirection.TextToImage ? (test.Captions, test.Images) : (test.Images, test.Captions);
            var evaluator = CrossModalEvaluation.Evaluator(test, direction);
            var results = dims.Select(dim => new CrossModalDimResult(dim, CrossModalEvaluation.From(evaluator.Evaluate(
                method.Compress(queries, dim, EmbeddingRole.Query), method.Compress(docs, dim, EmbeddingRole.Document))))).ToArray();
            evaluateSeconds += clock.Elapsed.TotalSeconds;
            var tag = direction == CrossModalDirection.TextToImage ? "t2i" : "i2t";
            foreach (var (key, value) in method.Settings) settings[$"method.{tag}.{key}"] = value;
            return results;
        }
        var textToImage = Panel(CrossModalDirection.TextToImage);
        var imageToText = Panel(CrossModalDirection.ImageToText);
        return new MultimodalResult(name, seed, textToImage, imageToText, settings, fitSeconds, evaluateSeconds);
    }

    /// <summary>Everything from the config: features (cache or encode), the joint space, then one method.</summary>
    public static MultimodalResult Run(MultimodalConfig config, Func<IReadOnlyList<int>, int, ICompressor> createMethod, long seed, bool progress = true) =>
        Run(PrepareJointSpace(LoadFeatures(config, progress)), createMethod, seed);
}
