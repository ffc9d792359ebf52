using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// Batches of (query, positive, hard negatives): each epoch is a seeded permutation of the train
/// pairs cut into full batches (the last partial batch is dropped); each query draws
/// <c>negativesPerQuery</c> of its mined hard negatives. Everything is a function of (seed, step).
/// </summary>
public sealed class PairBatcher(TrainingSet set, int batchSize, int negativesPerQuery, int randomDocs, long seed)
{
    public int BatchSize { get; } = Math.Min(batchSize, set.Pairs.Count);
    public int StepsPerEpoch => Math.Max(1, set.Pairs.Count / BatchSize);

    private int _cachedEpoch = -1;
    private int[] _order = [];

    /// <summary>The batch for a step; its tensors belong to the caller's dispose scope.</summary>
    public TrainingBatch Batch(int step)
    {
        var rows = Rows(step);
        return new TrainingBatch
        {
            Queries = set.Queries.index_select(0, LongTensor(rows.QueryRows)),
            Docs = set.Corpus.index_select(0, LongTensor(rows.DocRows)),
            Relevance = tensor(rows.Relevance, [rows.QueryRows.Length, rows.DocRows.Length]),
            PositiveColumn = tensor(rows.PositiveColumn),
            RandomDocs = randomDocs > 0 ? set.Corpus.index_select(0, LongTensor(rows.RandomDocRows)) : zeros(0, set.Dim),
            QueryRows = rows.QueryRows,
            DocRows = rows.DocRows,
            RandomDocRows = rows.RandomDocRows,
            Set = set,
        };
    }

    /// <summary>The rows of a step's batch, on the host (an ensemble stacks several members' rows into one set of tensors).</summary>
    public BatchRows Rows(int step)
    {
        var epoch = step / StepsPerEpoch;
        if (epoch != _cachedEpoch)
        {
            _order = Enumerable.Range(0, set.Pairs.Count).ToArray();
            SeedMix.Random(seed, SeedMix.EpochOrderStream, epoch).Shuffle(_order);
            _cachedEpoch = epoch;
        }
        var offset = step % StepsPerEpoch * BatchSize;
        var pairs = _order.AsSpan(offset, BatchSize).ToArray().Select(i => set.Pairs[i]).ToArray();

        // Candidate docs: positives then hard negatives, each corpus row once.
        var docRows = new List<int>();
        var column = new Dictionary<int, int>();
        int ColumnOf(int row)
        {
            if (column.TryGetValue(row, out var c)) return c;
            column[row] = docRows.Count;
            docRows.Add(row);
            return docRows.Count - 1;
        }
        var positiveColumn = pairs.Select(p => (long)ColumnOf(p.DocRow)).ToArray();
        var negativeRandom = SeedMix.Random(seed, SeedMix.NegativeStream, step);
        foreach (var pair in pairs)
        {
            if (negativesPerQuery <= 0 || !set.HardNegatives.TryGetValue(pair.QueryRow, out var pool) || pool.Length == 0) continue;
            var picks = pool.ToArray();
            negativeRandom.Shuffle(picks);
            foreach (var row in picks.Take(negativesPerQuery)) ColumnOf(row);
        }

        var relevance = new float[pairs.Length * docRows.Count];
        for (var i = 0; i < pairs.Length; i++)
            for (var m = 0; m < docRows.Count; m++)
                relevance[i * docRows.Count + m] = set.Relevance(pairs[i].QueryRow, docRows[m]);

        var randomRows = new int[randomDocs];
        var docRandom = SeedMix.Random(seed, SeedMix.RandomDocStream, step);
        for (var r = 0; r < randomDocs; r++) randomRows[r] = docRandom.Next((int)set.Corpus.shape[0]);

        return new BatchRows(pairs.Select(p => p.QueryRow).ToArray(), docRows.ToArray(), relevance, positiveColumn, randomRows);
    }

    private static Tensor LongTensor(IEnumerable<int> rows) => tensor(rows.Select(r => (long)r).ToArray());
}

/// <summary>A batch as rows of the training set: query rows, candidate doc rows, the [B x M] graded
/// relevance (row-major), each query's positive column, and the random doc rows.</summary>
public sealed record BatchRows(int[] QueryRows, int[] DocRows, float[] Relevance, long[] PositiveColumn, int[] RandomDocRows);
