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
    /// <summary>[2] int64: the number of filled slots and the next slot to write (kept as a tensor so checkpoints hold it).</summary>
    public Tensor Cursor { get; }

    public CrossBatchMemory(int capacity, int dim)
    {
        if (capacity < 1) throw new ArgumentException($"S-XBM capacity must be >= 1, got {capacity}");
        Capacity = capacity;
        Dim = dim;
        Embeddings = zeros(capacity, dim);
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
        ItemIds.index_copy_(0, slotIndex, tensor(itemIds[skip..]));
        Cursor.copy_(tensor(new long[] { Math.Min(Capacity, Count + n), (head + n - skip) % Capacity }));
    }

    /// <summary>
    /// For each anchor, the slots of its top-K most cosine-similar entries, excluding empty slots, the
    /// anchor's own item and the items in its exclusion list (its labelled positives). Returns
    /// (slots [B, K] int64, valid [B, K] bool); a slot is invalid when fewer than K entries qualify.
    /// </summary>
    public (Tensor Slots, Tensor Valid) Select(Tensor anchors, long[] anchorIds, IReadOnlyList<IReadOnlyCollection<long>> excluded, int k)
    {
        var b = anchorIds.Length;
        var sim = nn.functional.normalize(anchors.detach(), dim: 1).matmul(nn.functional.normalize(Embeddings, dim: 1).t());
        var ids = ItemIds.data<long>().ToArray();
        var slotsById = new Dictionary<long, List<int>>();
        for (var s = 0; s < Capacity; s++)
        {
            if (ids[s] < 0) continue;
            if (!slotsById.TryGetValue(ids[s], out var list)) slotsById[ids[s]] = list = [];
            list.Add(s);
        }
        var blocked = new bool[b * Capacity];
        for (var i = 0; i < b; i++)
        {
            var row = blocked.AsSpan(i * Capacity, Capacity);
            for (var s = 0; s < Capacity; s++) row[s] = ids[s] < 0; // empty slots never pair
            foreach (var id in excluded[i].Append(anchorIds[i]))
                if (slotsById.TryGetValue(id, out var entrySlots))
                    foreach (var s in entrySlots) row[s] = true;
        }
        sim = sim.FillWhere(tensor(blocked, [b, Capacity]), double.NegativeInfinity);
        var take = Math.Min(k, Capacity);
        var (values, slots) = sim.topk(take, dim: 1, largest: true, sorted: true);
        return (slots, values.isfinite());
    }

    public void Dispose()
    {
        Embeddings.Dispose();
        ItemIds.Dispose();
        Cursor.Dispose();
    }
}
