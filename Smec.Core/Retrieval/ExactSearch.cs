using Smec.Core.Metrics;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Retrieval;

/// <summary>Receives one query's ranking: document indices and scores, best first (trec_eval order).</summary>
public delegate void RankedRowHandler(int queryRow, ReadOnlySpan<int> docIndices, ReadOnlySpan<float> scores);

/// <summary>
/// Exact (brute-force) top-k search with TorchSharp. Queries are processed in chunks so that the
/// score block (chunk x all documents, float32) stays within <see cref="SearchOptions.ScoreBlockBytes"/>
/// (256 MiB by default); the block is allocated once and filled in place with addmm_, and every
/// chunk's temporaries live in their own dispose scope. Peak memory is therefore the two
/// embedding tensors plus one block plus the small top-k outputs.
/// Rankings follow <see cref="TrecOrder"/> exactly, including ties at the k-th place: the block
/// is searched for k+1 entries, and when the k-th and (k+1)-th tie the whole row decides.
/// </summary>
public static class ExactSearch
{
    /// <summary>Top-k documents of every query, as a <see cref="Run"/>.</summary>
    public static Run TopK(EmbeddingMatrix queries, EmbeddingMatrix docs, int k, SearchOptions? options = null)
    {
        options ??= SearchOptions.Default;
        Determinism.ConfigureTorch();
        var byQuery = new Dictionary<string, ScoredDoc[]>(queries.Rows, StringComparer.Ordinal);
        var excluded = options.IgnoreIdenticalIds ? IdenticalIdIndex(queries.Ids, docs.Ids) : null;
        using var scope = torch.NewDisposeScope();
        var queryTensor = EmbeddingTensors.ToTensor(queries);
        var docTensor = EmbeddingTensors.ToTensor(docs);
        Search(queryTensor, docTensor, k, TrecOrder.TieRanks(docs.Ids), excluded, options, (row, docIndices, scores) =>
        {
            var ranked = new ScoredDoc[docIndices.Length];
            for (var i = 0; i < ranked.Length; i++) ranked[i] = new ScoredDoc(docs.Ids[docIndices[i]], scores[i]);
            byQuery[queries.Ids[row]] = ranked;
        });
        return new Run(byQuery);
    }

    /// <summary>For each query, the index of the document with the same id, or -1.</summary>
    public static int[] IdenticalIdIndex(IReadOnlyList<string> queryIds, IReadOnlyList<string> docIds)
    {
        var docIndex = new Dictionary<string, int>(docIds.Count, StringComparer.Ordinal);
        for (var i = 0; i < docIds.Count; i++) docIndex.TryAdd(docIds[i], i);
        return queryIds.Select(q => docIndex.TryGetValue(q, out var d) ? d : -1).ToArray();
    }

    /// <summary>
    /// The streaming core: ranks every query row of <paramref name="queries"/> against
    /// <paramref name="docs"/> ([rows, dim] float32, any device) and hands each ranking to
    /// <paramref name="onRow"/> (its spans are valid only during the call).
    /// </summary>
    /// <param name="docTieRanks">From <see cref="TrecOrder.TieRanks"/>: among equal scores, the lower rank comes first.</param>
    /// <param name="excludedDocByQuery">Per query row, a document index to leave out, or -1 (null: none).</param>
    public static void Search(Tensor queries, Tensor docs, int k, int[] docTieRanks, int[]? excludedDocByQuery,
        SearchOptions options, RankedRowHandler onRow)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), $"k must be positive, got {k}");
        var docCount = (int)docs.shape[0];
        if (docTieRanks.Length != docCount) throw new ArgumentException($"{docTieRanks.Length} tie ranks for {docCount} documents");
        if (excludedDocByQuery != null && excludedDocByQuery.Length != queries.shape[0])
            throw new ArgumentException($"{excludedDocByQuery.Length} exclusions for {queries.shape[0]} queries");
        var kept = Math.Min(k, docCount);          // documents a query can get, before exclusions
        var searched = Math.Min(k + 1, docCount);  // one more, to see a tie across the k-th place
        var rowsPerChunk = RowsPerChunk(queries.shape[0], docCount, options.ScoreBlockBytes);
        var hostScores = new float[rowsPerChunk * searched];
        var hostIndices = new long[rowsPerChunk * searched];
        var ranking = new Ranking(kept + 1, docTieRanks);

        ScoreBlocks(queries, docs, options.Similarity, options.ScoreBlockBytes, (start, block) =>
        {
            var rows = (int)block.shape[0];
            if (excludedDocByQuery != null) MaskExcluded(block, start, excludedDocByQuery);
            if (RowTopK.Supports(block)) RowTopK.Compute(block, searched, hostScores, hostIndices, Determinism.ConfiguredThreads());
            else
            {
                // On a GPU the block stays there: torch selects, only the top entries cross to the host.
                var (values, indices) = block.topk(searched, dim: 1, largest: true, sorted: true);
                values.cpu().data<float>().CopyTo(hostScores);
                indices.cpu().data<long>().CopyTo(hostIndices);
            }
            for (var r = 0; r < rows; r++)
            {
                var excluded = excludedDocByQuery?[start + r] ?? -1;
                var wanted = Math.Min(kept, docCount - (excluded >= 0 ? 1 : 0));
                ranking.Fill(hostScores.AsSpan(r * searched, searched), hostIndices.AsSpan(r * searched, searched), excluded);
                if (ranking.Count > wanted && ranking.Scores[wanted - 1] == ranking.Scores[wanted])
                    ranking.FillFromFullRow(block[r], ranking.Scores[wanted - 1], excluded);
                ranking.SortTies(wanted);
                onRow(start + r, ranking.Docs.AsSpan(0, wanted), ranking.Scores.AsSpan(0, wanted));
            }
        });
    }

    /// <summary>
    /// The bare scoring loop: fills one reused score block per query chunk (addmm_ into a
    /// preallocated buffer) and hands it to <paramref name="onBlock"/> together with the chunk's
    /// first query row. The block is only valid during the call. <see cref="Search"/> is this
    /// loop plus top-k; the benchmark times both.
    /// </summary>
    public static void ScoreBlocks(Tensor queries, Tensor docs, Similarity similarity, long scoreBlockBytes, Action<int, Tensor> onBlock)
    {
        if (queries.shape[1] != docs.shape[1])
            throw new ArgumentException($"queries have {queries.shape[1]} dims but documents have {docs.shape[1]}");
        Determinism.ConfigureTorch();
        using var noGrad = torch.no_grad();
        using var outer = torch.NewDisposeScope();
        var queryCount = (int)queries.shape[0];
        var docCount = docs.shape[0];
        if (queryCount == 0 || docCount == 0) return;
        var scoredQueries = EmbeddingTensors.ForScoring(queries, similarity);
        var scoredDocsT = EmbeddingTensors.ForScoring(docs, similarity).t(); // a view: BLAS reads it transposed
        var rowsPerChunk = RowsPerChunk(queryCount, (int)docCount, scoreBlockBytes);
        var scoreBuffer = torch.empty(rowsPerChunk, docCount, ScalarType.Float32, device: docs.device);
        for (var start = 0; start < queryCount; start += rowsPerChunk)
        {
            using var chunk = torch.NewDisposeScope();
            var rows = Math.Min(rowsPerChunk, queryCount - start);
            var block = rows == rowsPerChunk ? scoreBuffer : scoreBuffer.narrow(0, 0, rows);
            block.addmm_(scoredQueries.narrow(0, start, rows), scoredDocsT, beta: 0f, alpha: 1f);
            onBlock(start, block);
        }
    }

    /// <summary>Queries per chunk so that the float32 score block stays within the budget (at least one row).</summary>
    public static int RowsPerChunk(long queryCount, int docCount, long scoreBlockBytes) =>
        (int)Math.Max(1, Math.Min(queryCount, scoreBlockBytes / (4L * Math.Max(1, docCount))));

    private static void MaskExcluded(Tensor block, int start, int[] excludedDocByQuery)
    {
        var rows = new List<long>();
        var cols = new List<long>();
        for (var r = 0; r < block.shape[0]; r++)
        {
            var d = excludedDocByQuery[start + r];
            if (d >= 0) { rows.Add(r); cols.Add(d); }
        }
        if (rows.Count == 0) return;
        // -inf sorts last, so an excluded document reaches the top-k only when every document does.
        block.index_put_(float.NegativeInfinity, [torch.tensor(rows.ToArray(), device: block.device), torch.tensor(cols.ToArray(), device: block.device)]);
    }

    /// <summary>One query's candidate list, reused across queries so the loop does not allocate.</summary>
    private sealed class Ranking(int capacity, int[] tieRanks)
    {
        public int[] Docs = new int[capacity];
        public float[] Scores = new float[capacity];
        public int Count;
        private float[]? _row;

        public void Fill(ReadOnlySpan<float> scores, ReadOnlySpan<long> indices, int excluded)
        {
            Count = 0;
            for (var i = 0; i < scores.Length; i++)
            {
                if (indices[i] == excluded) continue;
                Docs[Count] = (int)indices[i];
                Scores[Count++] = scores[i];
            }
        }

        /// <summary>The k-th place is tied: take every document scoring at least the tied score from the full row.</summary>
        public void FillFromFullRow(Tensor scoreRow, float tiedScore, int excluded)
        {
            var n = (int)scoreRow.shape[0];
            _row ??= new float[n];
            scoreRow.cpu().data<float>().CopyTo(_row);
            Count = 0;
            for (var d = 0; d < n; d++)
            {
                if (d == excluded || !(_row[d] >= tiedScore)) continue;
                if (Count == Docs.Length) { Array.Resize(ref Docs, Count * 2); Array.Resize(ref Scores, Count * 2); }
                Docs[Count] = d;
                Scores[Count++] = _row[d];
            }
            SortTies(Count, fullSort: true);
        }

        /// <summary>Order the first n candidates by score descending, then tie rank (doc id descending).</summary>
        public void SortTies(int n, bool fullSort = false)
        {
            n = Math.Min(n, Count);
            if (fullSort)
            {
                var order = Enumerable.Range(0, n).ToArray();
                var (docs, scores, ranks) = (Docs, Scores, tieRanks);
                Array.Sort(order, (a, b) => scores[a] != scores[b] ? scores[b].CompareTo(scores[a]) : ranks[docs[a]].CompareTo(ranks[docs[b]]));
                var sortedDocs = order.Select(i => docs[i]).ToArray();
                var sortedScores = order.Select(i => scores[i]).ToArray();
                sortedDocs.CopyTo(Docs, 0);
                sortedScores.CopyTo(Scores, 0);
                return;
            }
            // Already sorted by score (topk sorted=true); insertion sort fixes the order inside ties in O(n).
            for (var i = 1; i < n; i++)
            {
                var (doc, score) = (Docs[i], Scores[i]);
                var j = i - 1;
                while (j >= 0 && (Scores[j] < score || (Scores[j] == score && tieRanks[Docs[j]] > tieRanks[doc])))
                {
                    Docs[j + 1] = Docs[j];
                    Scores[j + 1] = Scores[j];
                    j--;
                }
                Docs[j + 1] = doc;
                Scores[j + 1] = score;
            }
        }
    }
}
