using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// S-XBM for the members of a <see cref="SmecStepEnsemble"/>: each member its own
/// <see cref="CrossBatchMemory"/> (capacity, warm-up and top-k of the shared options), filled with its own
/// batches and searched with its own anchors and exclusions, as <see cref="SmrlStepObjective"/> does for a
/// step alone. What members share: the frozen items and the anchor-cosine table (<see cref="ItemCosines"/>,
/// one per ensemble, not one per member). The search runs on the host per member (it does alone too);
/// the chosen pairs come back stacked for the batched loss.
/// </summary>
internal sealed class SmecStepMemories : IDisposable
{
    private readonly CrossBatchMemory[] _memories;
    private readonly TrainingSet[] _sets;
    private readonly SmecOptions _options;
    private readonly Tensor _items;
    private readonly long _corpusRows;
    private readonly ItemCosines? _cosines;
    private readonly Dictionary<int, HashSet<long>>[] _exclusions;

    /// <param name="items">[Nc + Nq, D] the frozen items (docs, then queries), shared by all members.</param>
    public SmecStepMemories(IReadOnlyList<TrainingSet> sets, SmecOptions options, Tensor items, long corpusRows, ItemCosines? cosines)
    {
        _sets = sets.ToArray();
        _options = options;
        _items = items;
        _corpusRows = corpusRows;
        _cosines = cosines;
        _memories = sets.Select(s => new CrossBatchMemory(options.SxbmCapacity, s.Dim)).ToArray();
        _exclusions = sets.Select(_ => new Dictionary<int, HashSet<long>>()).ToArray();
    }

    /// <summary>Member <paramref name="member"/>'s memory.</summary>
    public CrossBatchMemory Of(int member) => _memories[member];

    /// <summary>The pairs of one step, or null when no member's memory is searched (empty, or still warming up).</summary>
    /// <param name="memoryStart">Where memory rows start among each member's rows (after its padded docs).</param>
    /// <returns>Items: each member's memory items (each once); Index: per member [A * take] each chosen slot's row among
    /// the member's rows; Valid: [K, A, take]. A member whose memory is empty has no valid pair.</returns>
    public (long[][] Items, Tensor[] Index, Tensor Valid)? Pairs(int step, IReadOnlyList<BatchRows> rows, int memoryStart)
    {
        if (step < _options.SxbmWarmupSteps || _memories.All(m => m.Count == 0)) return null;
        var anchors = rows[0].QueryRows.Length; // SxbmAnchors.Queries: the batch's queries (the same B for every member)
        var take = Math.Min(_options.SxbmTopK, _options.SxbmCapacity);
        var items = new long[_memories.Length][];
        var index = new Tensor[_memories.Length];
        var valid = new Tensor[_memories.Length];
        for (var k = 0; k < _memories.Length; k++)
        {
            var memory = _memories[k];
            if (memory.Count == 0)
            {
                (items[k], index[k], valid[k]) = ([], tensor(Enumerable.Repeat((long)memoryStart, anchors * take).ToArray()), zeros(anchors, take, dtype: ScalarType.Bool));
                continue;
            }
            var anchorIds = rows[k].QueryRows.Select(q => _corpusRows + q).ToArray();
            var excluded = rows[k].QueryRows.Select(q => (IReadOnlyCollection<long>)Exclusions(k, q)).ToArray();
            var (slots, isValid) = _cosines is null
                ? memory.Select(_items.index_select(0, tensor(anchorIds)), anchorIds, excluded, _options.SxbmTopK)
                : memory.SelectBy(_cosines.Between(anchorIds, memory.ItemIds), anchorIds, excluded, _options.SxbmTopK);
            var (memoryItems, memoryIndex) = SmrlStepLoss.MemoryRows(memory.ItemIds.index_select(0, slots.flatten()).data<long>().ToArray(), memoryStart);
            (items[k], index[k], valid[k]) = (memoryItems, memoryIndex, isValid);
        }
        return (items, index, stack(valid));
    }

    /// <summary>A query's judged-relevant docs in the member's own set, kept per query (as the step alone keeps them).</summary>
    private HashSet<long> Exclusions(int member, int queryRow)
    {
        if (!_exclusions[member].TryGetValue(queryRow, out var set))
            _exclusions[member][queryRow] = set = _sets[member].RelevantDocs(queryRow).Select(d => (long)d).ToHashSet();
        return set;
    }

    /// <summary>After the step: each member stores its batch's queries, then its docs (frozen embeddings).</summary>
    public void Enqueue(IReadOnlyList<BatchRows> rows)
    {
        using var scope = NewDisposeScope();
        for (var k = 0; k < _memories.Length; k++)
        {
            long[] ids = [.. rows[k].QueryRows.Select(q => _corpusRows + q), .. rows[k].DocRows.Select(d => (long)d)];
            _memories[k].Enqueue(_items.index_select(0, tensor(ids)), ids);
        }
    }

    public void Dispose()
    {
        foreach (var m in _memories) m.Dispose();
    }
}
