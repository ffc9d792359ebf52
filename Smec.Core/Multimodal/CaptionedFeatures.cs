using Smec.Core.Data;
using Smec.Core.Storage;

namespace Smec.Core.Multimodal;

/// <summary>
/// Embeddings of captioned images: one row per image, one row per caption, and the image each
/// caption describes. Used both for the frozen encoders' outputs (ResNet18 512-d, MiniLM 384-d)
/// and for their projections into the learned joint space (same width for both modalities).
/// </summary>
public sealed class CaptionedFeatures
{
    public EmbeddingMatrix Images { get; }
    public EmbeddingMatrix Captions { get; }
    /// <summary>The image id of each caption row.</summary>
    public IReadOnlyList<string> CaptionImageIds { get; }

    public CaptionedFeatures(EmbeddingMatrix images, EmbeddingMatrix captions, IReadOnlyList<string> captionImageIds)
    {
        if (captionImageIds.Count != captions.Rows)
            throw new ArgumentException($"{captions.Rows} caption rows but {captionImageIds.Count} caption image ids");
        var imageIds = images.IndexById();
        for (var i = 0; i < captionImageIds.Count; i++)
            if (!imageIds.ContainsKey(captionImageIds[i]))
                throw new ArgumentException($"caption '{captions.Ids[i]}' describes image '{captionImageIds[i]}', which has no image row");
        captions.IndexById(); // caption ids must be unique too
        Images = images;
        Captions = captions;
        CaptionImageIds = captionImageIds;
    }

    /// <summary>The given images (in that order) and their captions (in caption order).</summary>
    public CaptionedFeatures Subset(IReadOnlyList<string> imageIds)
    {
        var wanted = new HashSet<string>(imageIds, StringComparer.Ordinal);
        var captionIds = new List<string>();
        var captionImages = new List<string>();
        for (var i = 0; i < Captions.Rows; i++)
            if (wanted.Contains(CaptionImageIds[i])) { captionIds.Add(Captions.Ids[i]); captionImages.Add(CaptionImageIds[i]); }
        return new CaptionedFeatures(Images.Select(imageIds), Captions.Select(captionIds), captionImages);
    }

    /// <summary>Same rows, new embeddings (e.g. the joint-space projections); ids must match row for row.</summary>
    public CaptionedFeatures WithEmbeddings(EmbeddingMatrix images, EmbeddingMatrix captions)
    {
        if (!images.Ids.SequenceEqual(Images.Ids, StringComparer.Ordinal) || !captions.Ids.SequenceEqual(Captions.Ids, StringComparer.Ordinal))
            throw new ArgumentException("new embeddings must keep the image and caption rows in the same order");
        return new CaptionedFeatures(images, captions, CaptionImageIds);
    }

    /// <summary>Text -> image judgements: each caption's own image is relevant (1).</summary>
    public Qrels TextToImageQrels()
    {
        var byQuery = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        for (var i = 0; i < Captions.Rows; i++)
            byQuery[Captions.Ids[i]] = new Dictionary<string, int>(StringComparer.Ordinal) { [CaptionImageIds[i]] = 1 };
        return new Qrels(byQuery);
    }

    /// <summary>Image -> text judgements: every caption of the image is relevant (1).</summary>
    public Qrels ImageToTextQrels()
    {
        var byQuery = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        for (var i = 0; i < Captions.Rows; i++)
        {
            if (!byQuery.TryGetValue(CaptionImageIds[i], out var judged))
                byQuery[CaptionImageIds[i]] = judged = new Dictionary<string, int>(StringComparer.Ordinal);
            judged[Captions.Ids[i]] = 1;
        }
        return new Qrels(byQuery);
    }

    /// <summary>Both sets together (train + validation as the compressors' corpus); ids must not overlap.</summary>
    public static CaptionedFeatures Concat(CaptionedFeatures a, CaptionedFeatures b) =>
        new(Stack(a.Images, b.Images), Stack(a.Captions, b.Captions), a.CaptionImageIds.Concat(b.CaptionImageIds).ToArray());

    private static EmbeddingMatrix Stack(EmbeddingMatrix a, EmbeddingMatrix b)
    {
        if (a.Dim != b.Dim) throw new ArgumentException($"cannot stack {a.Dim}-d and {b.Dim}-d embeddings");
        var stacked = new EmbeddingMatrix(a.Ids.Concat(b.Ids).ToArray(), [.. a.Values, .. b.Values], a.Dim);
        stacked.IndexById(); // duplicate ids are an error
        return stacked;
    }
}
