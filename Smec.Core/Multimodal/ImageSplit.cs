using Smec.Core.Training;

namespace Smec.Core.Multimodal;

/// <summary>Image ids of the three disjoint parts of a captioned-image dataset.</summary>
public sealed record ImageSplit(IReadOnlyList<string> Train, IReadOnlyList<string> Validation, IReadOnlyList<string> Test)
{
    /// <summary>Seed stream of the split's shuffle (apart from the training loop's streams).</summary>
    private const long ShuffleStream = 43;

    /// <summary>
    /// A seeded split by image (all captions of an image fall in its part, so no held-out image was
    /// seen in training): a shuffle of the ordinally sorted ids, cut into train, validation and test.
    /// Each part lists its ids in ordinal order.
    /// </summary>
    public static ImageSplit Make(IEnumerable<string> imageIds, int train, int validation, int test, long seed)
    {
        var ids = imageIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (train <= 0 || validation < 0 || test <= 0)
            throw new ArgumentException($"split sizes must be positive (validation may be 0): train {train}, validation {validation}, test {test}");
        if (train + validation + test > ids.Length)
            throw new ArgumentException($"a split of {train} train + {validation} validation + {test} test images needs {train + validation + test}, the dataset has {ids.Length}");
        SeedMix.Random(seed, ShuffleStream, 0).Shuffle(ids);
        string[] Part(int skip, int take) => ids.Skip(skip).Take(take).Order(StringComparer.Ordinal).ToArray();
        return new ImageSplit(Part(0, train), Part(train, validation), Part(train + validation, test));
    }
}
