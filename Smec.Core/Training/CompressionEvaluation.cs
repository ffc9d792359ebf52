using Smec.Core.Data;
using Smec.Core.Methods;
using Smec.Core.Retrieval;
using Smec.Core.Storage;

namespace Smec.Core.Training;

/// <summary>Mean nDCG@10 (trec_eval ndcg_cut.10) of a fitted compressor on a set of judged queries, at one dim.</summary>
public static class CompressionEvaluation
{
    public static double Ndcg10(ICompressor compressor, EmbeddingMatrix corpus, EmbeddingMatrix queries, Qrels qrels, int dim)
    {
        var judged = queries.Ids.Where(qrels.HasQuery).ToArray();
        return RetrievalEvaluation.NdcgAt10(
            compressor.Compress(queries.Select(judged), dim, EmbeddingRole.Query),
            compressor.Compress(corpus, dim, EmbeddingRole.Document),
            qrels);
    }
}
