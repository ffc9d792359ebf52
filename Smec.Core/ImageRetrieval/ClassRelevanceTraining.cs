using Smec.Core.Data;
using Smec.Core.Data.Images;
using Smec.Core.Methods;

namespace Smec.Core.ImageRetrieval;

/// <summary>
/// Turns class-labelled training images into the <see cref="TrainingData"/> every compressor
/// learns from, with class labels as relevance (query = an image, positives = same-class images).
/// A seeded, class-balanced share of the training images is held out as validation queries; the
/// corpus is the rest, so a validation query never finds itself.
///
/// Every training query's judgements list its whole class in the corpus, itself included: the
/// shared loop mines hard negatives as "top-ranked and not judged relevant", and an image's own
/// embedding (cosine 1) or a same-class image would otherwise be mined as a negative. The self
/// pair is a trivially satisfied positive and costs one pair in ~(corpus / classes).
/// </summary>
public static class ClassRelevanceTraining
{
    public static TrainingData Build(LabelledEmbeddings train, int validationPerClass, long seed)
    {
        if (validationPerClass < 0) throw new ArgumentOutOfRangeException(nameof(validationPerClass));
        var items = Enumerable.Range(0, train.Rows).Select(r => new LabeledImage(train.Embeddings.Ids[r], train.Labels[r])).ToArray();
        var validationIds = validationPerClass == 0 ? new HashSet<string>()
            : ClassBalancedSubset.Select(items, validationPerClass, seed).Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var validationRows = Enumerable.Range(0, train.Rows).Where(r => validationIds.Contains(train.Embeddings.Ids[r])).ToArray();
        var corpusRows = Enumerable.Range(0, train.Rows).Where(r => !validationIds.Contains(train.Embeddings.Ids[r])).ToArray();
        var corpus = train.SelectRows(corpusRows);

        var trainQrels = ClassQrels(train.SelectRows(corpusRows), corpus);
        var validationQrels = ClassQrels(train.SelectRows(validationRows), corpus);
        return new TrainingData(corpus.Embeddings, train.Embeddings, trainQrels, validationQrels, seed);
    }

    /// <summary>
    /// Qrels where each query judges every same-class corpus item relevant (relevance 1). Queries
    /// of one class share one judgement table (Qrels is read-only), so memory grows with the
    /// corpus, not with queries x class size.
    /// </summary>
    public static Qrels ClassQrels(LabelledEmbeddings queries, LabelledEmbeddings corpus)
    {
        var judgedByClass = new Dictionary<int, Dictionary<string, int>>();
        for (var i = 0; i < corpus.Rows; i++)
        {
            if (!judgedByClass.TryGetValue(corpus.Labels[i], out var judged))
                judgedByClass[corpus.Labels[i]] = judged = new Dictionary<string, int>(StringComparer.Ordinal);
            if (!judged.TryAdd(corpus.Embeddings.Ids[i], 1)) throw new ArgumentException($"duplicate corpus id '{corpus.Embeddings.Ids[i]}'");
        }
        var byQuery = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        for (var q = 0; q < queries.Rows; q++)
        {
            if (!judgedByClass.TryGetValue(queries.Labels[q], out var sameClass)) continue; // no relevant item: not a judged query
            if (!byQuery.TryAdd(queries.Embeddings.Ids[q], sameClass))
                throw new ArgumentException($"duplicate query id '{queries.Embeddings.Ids[q]}'");
        }
        return new Qrels(byQuery);
    }
}
