using System.Globalization;

namespace Smec.Core.ImageRetrieval;

/// <summary>
/// The local image-retrieval setting (catalog item 4): a class-labelled dataset, an image encoder,
/// class-balanced subsets sized for the feature-extraction budget, and the dims to report.
/// </summary>
public sealed record ImageRetrievalConfig
{
    /// <summary>A dataset id of data-manifests ("cifar10", "fashion-mnist").</summary>
    public required string Dataset { get; init; }
    public string Encoder { get; init; } = "resnet18";
    /// <summary>
    /// Training images per class. ResNet18 runs at batch 1 at about 9-17 images/s on 2 cores, so
    /// 200 train + 100 test per class (3,000 images) is 3-6 minutes of encoding per dataset.
    /// </summary>
    public int TrainPerClass { get; init; } = 200;
    /// <summary>Test images per class: the test gallery, each image querying the rest.</summary>
    public int TestPerClass { get; init; } = 100;
    /// <summary>Training images per class held out as validation queries (early stopping).</summary>
    public int ValidationPerClass { get; init; } = 20;
    /// <summary>
    /// Seed of the class-balanced subsets. Fixed apart from the training seed, so that every
    /// training seed and method sees the same images and the features are encoded once.
    /// </summary>
    public long SubsetSeed { get; init; } = 0;
    public IReadOnlyList<int> Dims { get; init; } = [32, 64, 128, 256, 512];
    /// <summary>A data root or dataset folder (null: the usual search, see DatasetLocator).</summary>
    public string? DataPath { get; init; }

    public IReadOnlyDictionary<string, string> Describe() => new SortedDictionary<string, string>
    {
        ["image.dataset"] = Dataset,
        ["image.encoder"] = Encoder,
        ["image.train_per_class"] = TrainPerClass.ToString(CultureInfo.InvariantCulture),
        ["image.test_per_class"] = TestPerClass.ToString(CultureInfo.InvariantCulture),
        ["image.validation_per_class"] = ValidationPerClass.ToString(CultureInfo.InvariantCulture),
        ["image.subset_seed"] = SubsetSeed.ToString(CultureInfo.InvariantCulture),
        ["image.relevance"] = "same class label, binary gain; each test image queries the rest of the test gallery (itself excluded)",
    };
}
