using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// Hard negatives under the frozen encoder: the top-ranked corpus docs by cosine similarity at full
/// dimension, minus the query's judged-relevant docs (the paper trains "with mined hard samples").
/// </summary>
public static class HardNegativeMiner
{
    public static IReadOnlyDictionary<int, int[]> Mine(
        Tensor corpus, Tensor queries, IReadOnlyDictionary<int, Dictionary<int, int>> relevantByQueryRow, int pool)
    {
        var result = new Dictionary<int, int[]>();
        if (pool <= 0) return result;
        var queryRows = relevantByQueryRow.Keys.OrderBy(r => r).ToArray();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var docs = nn.functional.normalize(corpus, dim: 1);
        // Enough extra candidates that removing the positives still leaves `pool` negatives.
        var maxPositives = relevantByQueryRow.Values.Max(d => d.Count);
        var take = (int)Math.Min(corpus.shape[0], pool + maxPositives);
        const int chunk = 512;
        for (var start = 0; start < queryRows.Length; start += chunk)
        {
            var rows = queryRows.AsSpan(start, Math.Min(chunk, queryRows.Length - start)).ToArray();
            var q = nn.functional.normalize(queries.index_select(0, tensor(rows.Select(r => (long)r).ToArray())), dim: 1);
            var top = q.matmul(docs.t()).topk(take, dim: 1, largest: true, sorted: true).indexes;
            var topRows = top.data<long>().ToArray();
            for (var i = 0; i < rows.Length; i++)
            {
                var relevant = relevantByQueryRow[rows[i]];
                result[rows[i]] = topRows.Skip(i * take).Take(take)
                    .Select(r => (int)r).Where(r => !relevant.ContainsKey(r)).Take(pool).ToArray();
            }
        }
        return result;
    }
}
