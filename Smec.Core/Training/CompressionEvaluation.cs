using Smec.Core.Data;
using Smec.Core.Methods;
using Smec.Core.Storage;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>Mean nDCG@10 of a fitted compressor on a set of judged queries, at one dim.</summary>
public static class CompressionEvaluation
{
    public static double Ndcg10(ICompressor compressor, EmbeddingMatrix corpus, EmbeddingMatrix queries, Qrels qrels, int dim)
    {
        var judged = qrels.QueryIds.Where(q => qrels.ForQuery(q).Any(kv => kv.Value > 0)).OrderBy(q => q, StringComparer.Ordinal).ToArray();
        var q = compressor.Compress(queries.Select(judged), dim, EmbeddingRole.Query);
        var d = compressor.Compress(corpus, dim, EmbeddingRole.Document);
        using var scope = NewDisposeScope();
        return Training.Ndcg10.Mean(tensor(q.Values, [q.Rows, dim]), tensor(d.Values, [d.Rows, dim]), judged, d.Ids, qrels);
    }
}
