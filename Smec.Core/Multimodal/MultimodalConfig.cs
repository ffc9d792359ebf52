using System.Globalization;

namespace Smec.Core.Multimodal;

/// <summary>
/// The local multimodal setting (catalog item 5): Flickr8k-1k, ResNet18 image features and MiniLM
/// caption features, a learned joint space standing in for the paper's 768-d multimodal encoder,
/// a seeded split by image, and the joint-space dims to report.
/// </summary>
public sealed record MultimodalConfig
{
    public string Dataset { get; init; } = "flickr8k-1k";
    public string ImageEncoder { get; init; } = "resnet18";
    public string TextEncoder { get; init; } = "all-MiniLM-L6-v2";
    /// <summary>Images the joint space learns from.</summary>
    public int JointTrainImages { get; init; } = 400;
    /// <summary>
    /// Images the compressors learn from, unseen by the joint space (0: the joint space's own
    /// training images). On the validation images, compressors trained on the joint space's own
    /// training pairs never improved on their initialisation (those pairs are already fitted).
    /// </summary>
    public int CompressorTrainImages { get; init; } = 300;
    /// <summary>Early stopping and model selection of the joint space and of every compressor.</summary>
    public int ValidationImages { get; init; } = 100;
    /// <summary>Held out: only ever evaluated.</summary>
    public int TestImages { get; init; } = 200;
    public long SplitSeed { get; init; } = 0;
    /// <summary>
    /// Seed of the joint space. Fixed apart from the compressors' training seed: the joint space
    /// plays the frozen encoder, the same for every method and seed.
    /// </summary>
    public long JointSeed { get; init; } = 0;
    public JointSpaceOptions Joint { get; init; } = new();
    /// <summary>Dims of the joint space to compress to (the last is the joint space's full width).</summary>
    public IReadOnlyList<int> Dims { get; init; } = [16, 32, 64, 128, 256];
    public string? DataPath { get; init; }

    public IReadOnlyDictionary<string, string> Describe()
    {
        var d = new SortedDictionary<string, string>(Joint.Describe().ToDictionary(kv => kv.Key, kv => kv.Value))
        {
            ["multimodal.dataset"] = Dataset,
            ["multimodal.image_encoder"] = ImageEncoder,
            ["multimodal.text_encoder"] = TextEncoder,
            ["multimodal.split"] = string.Create(CultureInfo.InvariantCulture, $"{JointTrainImages} joint-space train / {(CompressorTrainImages == 0 ? "the same" : CompressorTrainImages.ToString(CultureInfo.InvariantCulture))} compressor train / {ValidationImages} validation / {TestImages} test images, seed {SplitSeed}"),
            ["multimodal.joint_seed"] = JointSeed.ToString(CultureInfo.InvariantCulture),
            ["multimodal.encoder_note"] = "a learned joint space (stand-in for the paper's 768-d multimodal encoder), not a pretrained multimodal model",
        };
        return d;
    }
}
