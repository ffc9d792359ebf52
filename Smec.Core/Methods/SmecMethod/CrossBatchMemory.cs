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
    public (Tensor Slots, Tensor Valid) Select(Tensor anchors, long[] anchorIds, IReadOnlyList<IReadOnlyCollection<long>> excluded, int k) =>
        SelectBy(nn.functional.normalize(anchors.detach(), dim: 1).matmul(Normalised.t()), anchorIds, excluded, k);

    /// <summary>As <see cref="Select"/>, with the anchors' cosines to every slot given ([B, Capacity],
    /// e.g. looked up in <see cref="ItemCosines"/>).</summary>
    public (Tensor Slots, Tensor Valid) SelectBy(Tensor sim, long[] anchorIds, IReadOnlyList<IReadOnlyCollection<long>> excluded, int k)
    {
        var b = anchorIds.Length;
        var blocked = tensor(BlockedSlots(anchorIds, excluded), device: sim.device).view(b, Capacity);
        sim = sim.FillWhere(blocked, double.NegativeInfinity);
        var take = Math.Min(k, Capacity);
        var (values, slots) = sim.topk(take, dim: 1, largest: true, sorted: true);
        return (slots, values.isfinite());
    }

    /// <summary>
    /// [B x Capacity] row-major: true where anchor i must not pair with the slot (empty, an older copy
    /// of an item, the anchor's own item or one of its exclusions). Built on the host from a map of
    /// item id -> slots: O(Capacity + B x (exclusions + Capacity)) with no per-pair search. Why not
    /// in torch: sorting the exclusion lists and a searchsorted over every (anchor, slot) pair took
    /// 6 ms of a 20 ms SMEC step at capacity 4096 (a dense comparison is worse once anchors have
    /// hundreds of positives, as with class relevance).
    /// </summary>
    private bool[] BlockedSlots(long[] anchorIds, IReadOnlyList<IReadOnlyCollection<long>> excluded)
    {
        var ids = ItemIds.data<long>().ToArray();
        var older = OlderCopies(ids);
        var always = new bool[Capacity];
        var slotsOf = new Dictionary<long, List<int>>();
        for (var slot = 0; slot < Capacity; slot++)
        {
            always[slot] = ids[slot] < 0 || older[slot];
            if (ids[slot] < 0) continue;
            if (!slotsOf.TryGetValue(ids[slot], out var list)) slotsOf[ids[slot]] = list = new List<int>(1);
            list.Add(slot);
        }
        var blocked = new bool[anchorIds.Length * Capacity];
        for (var i = 0; i < anchorIds.Length; i++)
        {
            var row = i * Capacity;
            Array.Copy(always, 0, blocked, row, Capacity);
            if (slotsOf.TryGetValue(anchorIds[i], out var own)) foreach (var slot in own) blocked[row + slot] = true;
            foreach (var id in excluded[i])
                if (slotsOf.TryGetValue(id, out var slots)) foreach (var slot in slots) blocked[row + slot] = true;
        }
        return blocked;
    }

    /// <summary>Per slot: it holds an item that a newer slot holds too.</summary>
    private bool[] OlderCopies(long[] ids)
    {
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
        return older;
    }

    public void Dispose()
    {
        Embeddings.Dispose();
        Normalised.Dispose();
        ItemIds.Dispose();
        Cursor.Dispose();
    }
}
