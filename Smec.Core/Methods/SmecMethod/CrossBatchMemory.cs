using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// S-XBM's memory: a fixed-capacity FIFO ring buffer of detached full-dimension (teacher)
/// embeddings with the identity of the item each came from. The tensors live outside every dispose
/// scope on purpose (they outlast the step that wrote them); the owner disposes the memory.
/// </summary>
public sealed class CrossBatchMemory : IDisposable
{
    public int Capacity { get; }
    public int Dim { get; }
    /// <summary>[Capacity, Dim] stored embeddings (slots beyond Count are empty).</summary>
    public Tensor Embeddings { get; }
    /// <summary>[Capacity] int64 item ids, -1 for an empty slot.</summary>
    public Tensor ItemIds { get; }
    /// <summary>[Capacity, Dim] the same rows L2-normalised (kept so that a search does not renormalise 4096 rows).</summary>
    public Tensor Normalised { get; }
    /// <summary>[2] int64: the number of filled slots and the next slot to write (kept as a tensor so checkpoints hold it).</summary>
    public Tensor Cursor { get; }

    public CrossBatchMemory(int capacity, int dim)
    {
        if (capacity < 1) throw new ArgumentException($"S-XBM capacity must be >= 1, got {capacity}");
        Capacity = capacity;
        Dim = dim;
        Embeddings = zeros(capacity, dim);
        Normalised = zeros(capacity, dim);
        ItemIds = tensor(Enumerable.Repeat(-1L, capacity).ToArray());
        Cursor = zeros(2, dtype: ScalarType.Int64);
    }

    public int Count => (int)Cursor[0].item<long>();
    private int Head => (int)Cursor[1].item<long>();

    /// <summary>Append rows oldest-first; when full, the oldest entries are overwritten first.</summary>
    public void Enqueue(Tensor embeddings, long[] itemIds)
    {
        if (embeddings.shape[0] != itemIds.Length) throw new ArgumentException("one item id per embedding row");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rows = embeddings.detach().to(Embeddings.dtype);
        var n = itemIds.Length;
        // Only the newest Capacity rows can survive a write larger than the buffer.
        var skip = Math.Max(0, n - Capacity);
        var head = (Head + skip) % Capacity;
        var slots = Enumerable.Range(0, n - skip).Select(i => (long)((head + i) % Capacity)).ToArray();
        var slotIndex = tensor(slots);
        Embeddings.index_copy_(0, slotIndex, rows.narrow(0, skip, n - skip));
        Normalised.index_copy_(0, slotIndex, nn.functional.normalize(rows.narrow(0, skip, n - skip), dim: 1));
        ItemIds.index_copy_(0, slotIndex, tensor(itemIds[skip..]));
        Cursor.copy_(tensor(new long[] { Math.Min(Capacity, Count + n), (head + n - skip) % Capacity }));
    }

    /// <summary>
    /// For each anchor, the slots of its top-K most cosine-similar entries, excluding empty slots, the
    /// anchor's own item and the items in its exclusion list (its labelled positives), each item at
    /// most once (an item enqueued by several batches counts by its newest copy). Returns
    /// (slots [B, K] int64, valid [B, K] bool); a slot is invalid when fewer than K entries qualify.
    /// </summary>
    public (Tensor Slots, Tensor Valid) Select(Tensor anchors, long[] anchorIds, IReadOnlyList<IReadOnlyCollection<long>> excluded, int k)
    {
        var b = anchorIds.Length;
        var sim = nn.functional.normalize(anchors.detach(), dim: 1).matmul(Normalised.t());
        // Blocked (anchor, slot) pairs, all in torch: the anchor's own id and its exclusions, padded
        // with -1 (the id of an empty slot, which is blocked anyway).
        // A sentinel column of long.MaxValue closes every row, so a binary search never runs off the end.
        var width = 2 + excluded.Max(e => e.Count);
        var blockedIds = new long[b * width];
        Array.Fill(blockedIds, -1L);
        for (var i = 0; i < b; i++)
        {
            blockedIds[i * width] = anchorIds[i];
            var j = 1;
            foreach (var id in excluded[i]) blockedIds[i * width + j++] = id;
            blockedIds[i * width + width - 1] = long.MaxValue;
        }
        // Membership of every slot's id in each anchor's blocked list by binary search on the sorted
        // list: O(B x Capacity x log width). A dense [B, width, Capacity] comparison costs ~50M
        // element tests per step once anchors have hundreds of positives (class relevance).
        var sortedBlocked = tensor(blockedIds).view(b, width).sort(dim: 1).Values;
        var slotIds = ItemIds.unsqueeze(0).expand(b, Capacity).contiguous();
        var position = searchsorted(sortedBlocked, slotIds);
        var blocked = sortedBlocked.gather(1, position).eq(slotIds)
            .logical_or(ItemIds.IsNegative().logical_or(OlderCopies()).unsqueeze(0));
        sim = sim.FillWhere(blocked, double.NegativeInfinity);
        var take = Math.Min(k, Capacity);
        var (values, slots) = sim.topk(take, dim: 1, largest: true, sorted: true);
        return (slots, values.isfinite());
    }

    /// <summary>[Capacity] bool: slots holding an item that a newer slot holds too.</summary>
    private Tensor OlderCopies()
    {
        var ids = ItemIds.data<long>().ToArray();
        var older = new bool[Capacity];
        var seen = new HashSet<long>();
        // Read the cursor once: each read is a tensor access, and doing it per slot cost ~30 ms a step.
        var (count, head) = (Count, Head);
        // Newest first: the slot before the write head, backwards around the ring.
        for (var age = 0; age < count; age++)
        {
            var slot = ((head - 1 - age) % Capacity + Capacity) % Capacity;
            if (ids[slot] >= 0 && !seen.Add(ids[slot])) older[slot] = true;
        }
        return tensor(older);
    }

    public void Dispose()
    {
        Embeddings.Dispose();
        Normalised.Dispose();
        ItemIds.Dispose();
        Cursor.Dispose();
    }
}
