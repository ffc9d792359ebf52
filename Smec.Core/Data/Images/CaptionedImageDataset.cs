namespace Smec.Core.Data.Images;

/// <summary>A caption of an image; ids follow Flickr8k's <c>&lt;image&gt;#&lt;k&gt;</c> convention.</summary>
public sealed record ImageCaption(string Id, string ImageId, string Text);

/// <summary>Images with several captions each (Flickr8k-1k): the multimodal retrieval stand-in.</summary>
public sealed class CaptionedImageDataset(
    string id,
    IReadOnlyList<string> imageIds,
    IReadOnlyList<ImageCaption> captions,
    IImageSource source)
{
    /// <summary>The split name under which <see cref="Source"/> serves the images.</summary>
    public const string ImagesSplit = "images";

    public string Id { get; } = id;
    /// <summary>Image ids (file names) in the order they first appear in the captions file.</summary>
    public IReadOnlyList<string> ImageIds { get; } = imageIds;
    public IReadOnlyList<ImageCaption> Captions { get; } = captions;
    public IImageSource Source { get; } = source;

    /// <summary>Decode the images (in archive order).</summary>
    public IEnumerable<(string Id, RgbImage Image)> ReadImages(IReadOnlySet<string>? ids = null) =>
        Source.Read(ImagesSplit, ids == null ? _ => true : ids.Contains);
}
