namespace Smec.Core.Data.Images;

/// <summary>An image of a class-labelled dataset; <see cref="Label"/> indexes the class names.</summary>
public sealed record LabeledImage(string Id, int Label);

/// <summary>Streams decoded images of one split, in the dataset's order, skipping those not wanted.</summary>
public interface IImageSource
{
    IEnumerable<(string Id, RgbImage Image)> Read(string split, Func<string, bool> wanted);
}

/// <summary>
/// A class-labelled image dataset (CIFAR-10, Fashion-MNIST): per split, the images' ids and
/// labels in storage order (cheap: no pixel is decoded), plus a source that decodes on demand.
/// </summary>
public sealed class ImageClassDataset(
    string id,
    IReadOnlyList<string> classNames,
    IReadOnlyDictionary<string, IReadOnlyList<LabeledImage>> splits,
    IImageSource source)
{
    public string Id { get; } = id;
    public IReadOnlyList<string> ClassNames { get; } = classNames;
    public IReadOnlyDictionary<string, IReadOnlyList<LabeledImage>> Splits { get; } = splits;
    public IImageSource Source { get; } = source;

    public IReadOnlyList<LabeledImage> Split(string split) =>
        Splits.TryGetValue(split, out var items) ? items
        : throw new KeyNotFoundException($"dataset '{Id}' has no split '{split}' (splits: {string.Join(", ", Splits.Keys)})");

    /// <summary>Decode the given images of a split (all when <paramref name="ids"/> is null), in storage order.</summary>
    public IEnumerable<(string Id, RgbImage Image)> ReadImages(string split, IReadOnlySet<string>? ids = null) =>
        Source.Read(split, ids == null ? _ => true : ids.Contains);
}
