using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// The cosine of every possible S-XBM anchor with every item, under the frozen encoder, computed once
/// per Fit when it fits in <see cref="BudgetBytes"/>. Why: S-XBM's memory holds frozen (teacher)
/// embeddings of items, and its anchors are items too, so each step's anchor x memory product
/// (64 x 4,096 x 384 at the local settings, a fifth of a SMEC step) only re-derives numbers that
/// never change; a lookup of the anchors' rows at the slots' items gives them. The rows are the same
/// matrix products of the same normalised rows (a product's row does not depend on its neighbours),
/// so the slots chosen are the same (checked against <see cref="CrossBatchMemory.Select"/> in
/// tests/Smec.Tests/SmecTests.fs). Too big a table (many anchors times many items) is not built, and
/// the memory multiplies as before.
/// </summary>
public sealed class ItemCosines : IDisposable
{
    /// <summary>The most memory the table may take.</summary>
    public const long BudgetBytes = 512L << 20;
    private const long ChunkRows = 256;

    private readonly Tensor _table;                 // [A, N]
    private readonly Dictionary<long, long> _rowOf; // anchor item -> table row

    private ItemCosines(Tensor table, Dictionary<long, long> rowOf) { _table = table; _rowOf = rowOf; }

    /// <summary>The table for <paramref name="anchorItems"/> against every row of <paramref name="items"/>
    /// ([N, D] frozen embeddings), or null when it would exceed <paramref name="budgetBytes"/>.</summary>
    public static ItemCosines? TryBuild(Tensor items, IReadOnlyList<long> anchorItems, long budgetBytes = BudgetBytes)
    {
        var anchors = anchorItems.Distinct().Order().ToArray();
        var n = items.shape[0];
        if (anchors.Length == 0 || (long)anchors.Length * n * sizeof(float) > budgetBytes) return null;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var unit = nn.functional.normalize(items.to_type(ScalarType.Float32), dim: 1);
        var anchorRows = tensor(anchors);
        var parts = new List<Tensor>();
        for (long start = 0; start < anchors.Length; start += ChunkRows)
        {
            var rows = anchorRows.narrow(0, start, Math.Min(ChunkRows, anchors.Length - start));
            parts.Add(unit.index_select(0, rows).matmul(unit.t()));
        }
        // The table outlives this scope and any caller's: the owner disposes it.
        var table = cat(parts, 0).DetachFromDisposeScope();
        return new ItemCosines(table, anchors.Select((item, row) => (item, (long)row)).ToDictionary(x => x.item, x => x.Item2));
    }

    /// <summary>[B, S] the cosine of each anchor item with the item in each slot (slots holding -1, the
    /// empty ones, read item 0: the caller blocks them).</summary>
    public Tensor Between(long[] anchorItems, Tensor slotItems)
    {
        var rows = anchorItems.Select(item => _rowOf.TryGetValue(item, out var row) ? row
            : throw new ArgumentException($"item {item} is no anchor of this table")).ToArray();
        // Read on the host (4,096 ids): clamp_min would make a temporary Scalar (see ScalarSafe).
        var columns = slotItems.data<long>().ToArray();
        for (var i = 0; i < columns.Length; i++) columns[i] = Math.Max(0, columns[i]);
        return _table.index_select(0, tensor(rows)).index_select(1, tensor(columns));
    }

    /// <summary>The table's size (what the ensemble sizing rule counts once per ensemble).</summary>
    public long Bytes => _table.NumberOfElements * _table.ElementSize;

    public void Dispose() => _table.Dispose();
}
