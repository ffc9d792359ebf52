using Smec.Core.Training;

namespace Smec.Core.Multimodal;

/// <summary>
/// Image ids of the parts of a captioned-image dataset. The joint space (the stand-in encoder)
/// learns from <see cref="JointTrain"/>; the compressors learn from <see cref="CompressorTrain"/>,
/// images the joint space never saw, as the paper's adaptors learn from data its encoder was not
/// trained on (when the two are the same list, the compressors see the joint space's own
/// training pairs, which it already fits better than unseen ones). Both stop early on
/// <see cref="Validation"/>; <see cref="Test"/> is only ever evaluated.
/// </summary>
public sealed record ImageSplit(
    IReadOnlyList<string> JointTrain, IReadOnlyList<string> CompressorTrain, IReadOnlyList<string> Validation, IReadOnlyList<string> Test)
{
    /// <summary>Seed stream of the split's shuffle (apart from the training loop's streams).</summary>
    private const long ShuffleStream = 43;

    /// <summary>
    /// A seeded split by image (all captions of an image fall in its part): a shuffle of the
    /// ordinally sorted ids, cut in this order into joint-space training, compressor training,
    /// validation and test. <paramref name="compressorTrain"/> = 0 lets the compressors train on the
    /// joint space's training images. Each part lists its ids in ordinal order.
    /// </summary>
    public static ImageSplit Make(IEnumerable<string> imageIds, int jointTrain, int compressorTrain, int validation, int test, long seed)
    {
        var ids = imageIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (jointTrain <= 0 || compressorTrain < 0 || validation <= 0 || test <= 0)
            throw new ArgumentException(
                $"split sizes must be positive (compressor training may be 0: shared with the joint space): joint train {jointTrain}, compressor train {compressorTrain}, validation {validation}, test {test}");
        var total = jointTrain + compressorTrain + validation + test;
        if (total > ids.Length)
            throw new ArgumentException($"a split of {jointTrain} + {compressorTrain} training, {validation} validation and {test} test images needs {total}, the dataset has {ids.Length}");
        SeedMix.Random(seed, ShuffleStream, 0).Shuffle(ids);
        string[] Part(int skip, int take) => ids.Skip(skip).Take(take).Order(StringComparer.Ordinal).ToArray();
        var joint = Part(0, jointTrain);
        return new ImageSplit(joint, compressorTrain == 0 ? joint : Part(jointTrain, compressorTrain),
            Part(jointTrain + compressorTrain, validation), Part(jointTrain + compressorTrain + validation, test));
    }

    /// <summary>Whether the compressors train on the joint space's own training images.</summary>
    public bool SharedTraining => ReferenceEquals(JointTrain, CompressorTrain);
}
