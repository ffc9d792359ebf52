using Smec.Core.Data;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// A small private nDCG@10 for early stopping only, until Smec.Core.Metrics lands (the reported
/// figures come from the shared metrics). Cosine scores, linear gain, log2 discount, ideal list from
/// the qrels; ties broken by doc id descending as trec_eval does.
/// </summary>
internal static class Ndcg10
{
    public static double Mean(Tensor queries, Tensor docs, IReadOnlyList<string> queryIds, IReadOnlyList<string> docIds, Qrels qrels)
    {
        const int k = 10;
        using var scope = NewDisposeScope();
        var scores = nn.functional.normalize(queries, dim: 1).matmul(nn.functional.normalize(docs, dim: 1).t());
        // A few more than k so that float32 ties at the cut can be reordered by id.
        var take = (int)Math.Min(docs.shape[0], k + 10);
        var (values, indexes) = scores.topk(take, dim: 1);
        var topScores = values.data<float>().ToArray();
        var topRows = indexes.data<long>().ToArray();
        var total = 0.0;
        for (var i = 0; i < queryIds.Count; i++)
        {
            var judged = qrels.ForQuery(queryIds[i]);
            var ranked = Enumerable.Range(0, take)
                .Select(j => (Score: topScores[i * take + j], Id: docIds[(int)topRows[i * take + j]]))
                .OrderByDescending(x => x.Score).ThenByDescending(x => x.Id, StringComparer.Ordinal)
                .Take(k).ToArray();
            var dcg = 0.0;
            for (var r = 0; r < ranked.Length; r++)
                if (judged.TryGetValue(ranked[r].Id, out var rel) && rel > 0) dcg += rel / Math.Log2(r + 2);
            var ideal = judged.Values.Where(v => v > 0).OrderByDescending(v => v).Take(k)
                .Select((rel, r) => rel / Math.Log2(r + 2)).Sum();
            total += ideal > 0 ? dcg / ideal : 0;
        }
        return queryIds.Count == 0 ? 0 : total / queryIds.Count;
    }
}
