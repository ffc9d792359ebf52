using Smec.Core.Metrics;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using TorchSharp;

namespace Smec.Core.Retrieval;

/// <summary>Image-retrieval figures under class-label relevance (means over evaluated queries).</summary>
/// <param name="NdcgAt10">nDCG@10 with binary gains (same class = 1).</param>
/// <param name="MapAtR">mAP@R (Musgrave et al. 2020): R = relevant items in the gallery; the mean over
/// the top R of precision at each relevant rank, divided by R (equals trec_eval map_cut.R).</param>
/// <param name="PrecisionAt10">P@10.</param>
/// <param name="QueryCount">Queries with at least one other item of their class in the gallery.</param>
public sealed record ClassRetrievalScores(double NdcgAt10, double MapAtR, double PrecisionAt10, int QueryCount);

/// <summary>
/// Class-label retrieval evaluated straight from the search, without materialising qrels (a
/// 10k-image gallery would need ~10M pairs). Relevant = same label; a query is never retrieved
/// for itself (a gallery item with the query's id is excluded). Same semantics as evaluating
/// <see cref="LabelRelevance.SameClass"/> qrels with identical ids ignored.
/// </summary>
public static class ClassLabelEvaluation
{
    public static ClassRetrievalScores Evaluate(EmbeddingMatrix queries, IReadOnlyList<int> queryLabels,
        EmbeddingMatrix gallery, IReadOnlyList<int> galleryLabels, SearchOptions? options = null)
    {
        if (queryLabels.Count != queries.Rows) throw new ArgumentException($"{queryLabels.Count} query labels for {queries.Rows} queries");
        if (galleryLabels.Count != gallery.Rows) throw new ArgumentException($"{galleryLabels.Count} gallery labels for {gallery.Rows} gallery items");
        options = (options ?? SearchOptions.Default) with { IgnoreIdenticalIds = true };
        Determinism.ConfigureTorch();

        var excluded = ExactSearch.IdenticalIdIndex(queries.Ids, gallery.Ids);
        var classSize = galleryLabels.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        var relevantCount = new int[queries.Rows];
        for (var q = 0; q < queries.Rows; q++)
        {
            var selfInGallery = excluded[q] >= 0 && galleryLabels[excluded[q]] == queryLabels[q];
            relevantCount[q] = classSize.GetValueOrDefault(queryLabels[q]) - (selfInGallery ? 1 : 0);
        }
        var depth = Math.Max(10, relevantCount.DefaultIfEmpty(0).Max());
        var profiles = new Dictionary<int, QueryRelevance>(); // one per distinct R: a class's queries share it
        var relevanceByRank = new int[depth];
        double ndcg = 0, mapAtR = 0, precision = 0;
        var evaluated = 0;

        using var scope = torch.NewDisposeScope();
        ExactSearch.Search(EmbeddingTensors.ToTensor(queries), EmbeddingTensors.ToTensor(gallery), depth,
            TrecOrder.TieRanks(gallery.Ids), excluded, options, (q, docRows, _) =>
            {
                var r = relevantCount[q];
                if (r == 0) return;
                var ranked = relevanceByRank.AsSpan(0, docRows.Length);
                for (var i = 0; i < docRows.Length; i++) ranked[i] = galleryLabels[docRows[i]] == queryLabels[q] ? 1 : 0;
                if (!profiles.TryGetValue(r, out var profile)) profiles[r] = profile = QueryRelevance.Binary(r);
                ndcg += RankedMeasures.Compute(Measure.Ndcg10, ranked, profile);
                mapAtR += RankedMeasures.Compute(Measure.MapCut(r), ranked, profile);
                precision += RankedMeasures.Compute(Measure.PrecisionAt(10), ranked, profile);
                evaluated++;
            });
        return evaluated == 0
            ? new ClassRetrievalScores(0, 0, 0, 0)
            : new ClassRetrievalScores(ndcg / evaluated, mapAtR / evaluated, precision / evaluated, evaluated);
    }
}
