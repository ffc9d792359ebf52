using Smec.Core.Data;

namespace Smec.Core.Metrics;

/// <summary>
/// Relevance that comes from labels instead of judgements: image retrieval by class, and
/// cross-modal retrieval between captions and images. Each builds ordinary <see cref="Qrels"/>
/// (relevance 1), so every measure and tool applies. For large galleries, where such qrels would
/// hold millions of pairs, <c>Retrieval.ClassLabelEvaluation</c> evaluates class labels directly.
/// </summary>
public static class LabelRelevance
{
    /// <summary>
    /// Same class = relevant. The query itself is not relevant to itself (an id in both lists is
    /// the same item): evaluate with identical ids ignored so it is also out of its own gallery.
    /// Queries with no other item of their class in the gallery get no entry (not evaluated).
    /// </summary>
    public static Qrels SameClass(IReadOnlyList<string> queryIds, IReadOnlyList<int> queryLabels,
        IReadOnlyList<string> galleryIds, IReadOnlyList<int> galleryLabels)
    {
        RequireSameCount("query", queryIds.Count, queryLabels.Count);
        RequireSameCount("gallery", galleryIds.Count, galleryLabels.Count);
        var galleryByLabel = galleryIds.Select((id, i) => (id, label: galleryLabels[i]))
            .GroupBy(x => x.label).ToDictionary(g => g.Key, g => g.Select(x => x.id).ToArray());
        var byQuery = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        for (var q = 0; q < queryIds.Count; q++)
        {
            if (!galleryByLabel.TryGetValue(queryLabels[q], out var sameClass)) continue;
            var relevant = new Dictionary<string, int>(sameClass.Length, StringComparer.Ordinal);
            foreach (var id in sameClass)
                if (id != queryIds[q]) relevant[id] = 1;
            if (relevant.Count > 0) byQuery[queryIds[q]] = relevant;
        }
        return new Qrels(byQuery);
    }

    /// <summary>Caption -> image: each caption's one relevant document is its image.</summary>
    public static Qrels CaptionToImage(IReadOnlyList<string> captionIds, IReadOnlyList<string> imageIdOfCaption)
    {
        RequireSameCount("caption", captionIds.Count, imageIdOfCaption.Count);
        var byQuery = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        for (var c = 0; c < captionIds.Count; c++)
        {
            if (byQuery.ContainsKey(captionIds[c])) throw new ArgumentException($"caption id '{captionIds[c]}' appears twice");
            byQuery[captionIds[c]] = new(StringComparer.Ordinal) { [imageIdOfCaption[c]] = 1 };
        }
        return new Qrels(byQuery);
    }

    /// <summary>Image -> captions: each image's relevant documents are its captions (5 in Flickr8k).</summary>
    public static Qrels ImageToCaptions(IReadOnlyList<string> captionIds, IReadOnlyList<string> imageIdOfCaption)
    {
        RequireSameCount("caption", captionIds.Count, imageIdOfCaption.Count);
        var byQuery = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        for (var c = 0; c < captionIds.Count; c++)
        {
            if (!byQuery.TryGetValue(imageIdOfCaption[c], out var captions))
                byQuery[imageIdOfCaption[c]] = captions = new(StringComparer.Ordinal);
            captions[captionIds[c]] = 1;
        }
        return new Qrels(byQuery);
    }

    private static void RequireSameCount(string what, int ids, int labels)
    {
        if (ids != labels) throw new ArgumentException($"{ids} {what} ids but {labels} labels");
    }
}
