using Smec.Core.Metrics;
using Smec.Core.Retrieval;
using Smec.Core.Storage;
using TorchSharp;

namespace Smec.Core.ImageRetrieval;

/// <summary>Mean retrieval figures of a class-labelled gallery searched by each of its own items.</summary>
/// <param name="Queries">Queries evaluated: those with at least one other item of their class.</param>
public sealed record ClassRetrievalMetrics(double Ndcg10, double MapAtR, double PrecisionAt10, int Queries);

/// <summary>
/// Image retrieval with class labels as relevance (docs/METHOD.md, "Evaluation"): every gallery item is a query against
/// the rest of the gallery (itself excluded); an item is relevant when it has the query's label.
/// Reports nDCG@10 with binary gain, P@10, and mAP@R (Musgrave et al. 2020: R = the number of other
/// same-class items, AP computed over the top R and divided by R, which is trec_eval's map_cut at R).
/// Rankings are the shared exact search's, so ties follow trec_eval (equal scores: id descending).
/// </summary>
public static class ClassRelevanceEvaluation
{
    /// <param name="queries">The gallery items compressed as queries (row i = gallery item i).</param>
    /// <param name="gallery">The same items compressed as documents.</param>
    /// <param name="labels">The class of each row.</param>
    public static ClassRetrievalMetrics Evaluate(EmbeddingMatrix queries, EmbeddingMatrix gallery, IReadOnlyList<int> labels,
        SearchOptions? options = null)
    {
        if (gallery.Rows != labels.Count) throw new ArgumentException($"{gallery.Rows} gallery rows but {labels.Count} labels");
        if (queries.Rows != gallery.Rows) throw new ArgumentException($"{queries.Rows} query rows for a gallery of {gallery.Rows}");
        for (var i = 0; i < queries.Rows; i++)
            if (!string.Equals(queries.Ids[i], gallery.Ids[i], StringComparison.Ordinal))
                throw new ArgumentException($"query row {i} is '{queries.Ids[i]}' but gallery row {i} is '{gallery.Ids[i]}': queries must be the gallery's own items");
        options ??= SearchOptions.Default;

        var classSize = labels.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        var relevantCount = labels.Select(l => classSize[l] - 1).ToArray(); // R: same class, minus the query itself
        var profiles = relevantCount.Distinct().ToDictionary(r => r, r => new QueryRelevance(Enumerable.Repeat(1, r)));
        var depth = Math.Max(10, relevantCount.Max());
        var selfExcluded = Enumerable.Range(0, gallery.Rows).ToArray();

        double ndcg = 0, mapAtR = 0, precision = 0;
        var evaluated = 0;
        var relevanceByRank = new int[depth];
        using var scope = torch.NewDisposeScope();
        ExactSearch.Search(EmbeddingTensors.ToTensor(queries), EmbeddingTensors.ToTensor(gallery), depth,
            TrecOrder.TieRanks(gallery.Ids), selfExcluded, options, (q, docRows, _) =>
            {
                var r = relevantCount[q];
                if (r == 0) return; // no other item of its class: nothing to find (trec_eval skips unjudged queries)
                var ranked = relevanceByRank.AsSpan(0, docRows.Length);
                for (var i = 0; i < docRows.Length; i++) ranked[i] = labels[docRows[i]] == labels[q] ? 1 : 0;
                var profile = profiles[r];
                ndcg += RankedMeasures.Compute(Measure.Ndcg10, ranked, profile);
                precision += RankedMeasures.Compute(Measure.PrecisionAt(10), ranked, profile);
                mapAtR += RankedMeasures.Compute(Measure.MapCut(r), ranked, profile);
                evaluated++;
            });
        return evaluated == 0
            ? new ClassRetrievalMetrics(0, 0, 0, 0)
            : new ClassRetrievalMetrics(ndcg / evaluated, mapAtR / evaluated, precision / evaluated, evaluated);
    }
}
