using Smec.Core.Data;
using Smec.Core.Retrieval;
using Smec.Core.Storage;

namespace Smec.Core.Analysis;

/// <summary>Mean, standard deviation (n - 1), min and max of a sample.</summary>
public sealed record Distribution(double Mean, double Sd, double Min, double Max, int Count)
{
    public static Distribution Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("a distribution needs at least one value");
        var mean = values.Average();
        var sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0.0;
        return new Distribution(mean, sd, values.Min(), values.Max(), values.Count);
    }
}

/// <summary>
/// Catalog item 9 judges a selection of embedding dims directly: retrieval with only those dims
/// (cosine over the kept coordinates), against the prefix and against random subsets of the same size.
/// </summary>
public static class DimensionSubsets
{
    /// <summary>The matrix restricted to <paramref name="dims"/> (in the given order).</summary>
    public static EmbeddingMatrix Columns(EmbeddingMatrix matrix, IReadOnlyList<long> dims)
    {
        if (dims.Any(d => d < 0 || d >= matrix.Dim)) throw new ArgumentOutOfRangeException(nameof(dims), $"a dim lies outside 0..{matrix.Dim - 1}");
        var values = new float[(long)matrix.Rows * dims.Count];
        for (var r = 0; r < matrix.Rows; r++)
        {
            var row = matrix.Row(r);
            for (var j = 0; j < dims.Count; j++) values[(long)r * dims.Count + j] = row[(int)dims[j]];
        }
        return new EmbeddingMatrix(matrix.Ids, values, dims.Count);
    }

    /// <summary>nDCG@10 of the judged queries searching the corpus with only <paramref name="dims"/>.</summary>
    public static double Ndcg10(EmbeddingMatrix queries, EmbeddingMatrix corpus, Qrels qrels, IReadOnlyList<long> dims, SearchOptions? options = null)
    {
        var judged = queries.Ids.Where(qrels.HasQuery).ToArray();
        return RetrievalEvaluation.NdcgAt10(Columns(queries.Select(judged), dims), Columns(corpus, dims), qrels, options);
    }

    /// <summary><paramref name="count"/> subsets of <paramref name="size"/> distinct dims of 0..width-1, each
    /// sorted, drawn with a seeded generator (the same seed gives the same subsets).</summary>
    public static long[][] Random(int width, int size, int count, int seed)
    {
        if (size < 1 || size > width) throw new ArgumentOutOfRangeException(nameof(size), $"a subset of {size} of {width} dims");
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var all = Enumerable.Range(0, width).Select(i => (long)i).ToArray();
            random.Shuffle(all);
            return all[..size].Order().ToArray();
        }).ToArray();
    }
}
