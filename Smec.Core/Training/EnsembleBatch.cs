using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// K members' batches (<see cref="BatchRows"/>) stacked into one set of tensors. The members draw
/// different docs (each batch deduplicates its positives and negatives), so the doc columns are padded
/// to the widest member's M: a padded column repeats the member's first doc and is marked invalid in
/// <see cref="DocValid"/>, which the ensemble losses exclude. Built from host arrays only (no read back).
/// </summary>
public sealed class EnsembleBatch : IDisposable
{
    public int Members { get; }
    /// <summary>Queries per member (the same B for all).</summary>
    public int Queries { get; }
    /// <summary>Doc columns per member after padding (M).</summary>
    public int Docs { get; }
    /// <summary>[K, B + M] int64 item rows: each member's queries (queryItemOffset + query row), then its docs (doc row).</summary>
    public required Tensor Items { get; init; }
    /// <summary>[K, B, M] float32 graded relevance (0 in padded columns).</summary>
    public required Tensor Relevance { get; init; }
    /// <summary>[K, B] int64: the column of each query's sampled positive.</summary>
    public required Tensor PositiveColumn { get; init; }
    /// <summary>[K, M] bool: false in a member's padded columns.</summary>
    public required Tensor DocValid { get; init; }
    /// <summary>The judged-relevant (query, doc) cells of all members, for the pairwise loss: [P] member, [P] row of
    /// the flattened [K * B] queries, [P] doc column (computed on the host, so the loss needs no nonzero()).</summary>
    public required Tensor PreferredMember { get; init; }
    public required Tensor PreferredRow { get; init; }
    public required Tensor PreferredColumn { get; init; }
    /// <summary>[K, R] int64 corpus rows of each member's random docs (R = TrainingOptions.RandomDocs, the same for all; may be 0).</summary>
    public required Tensor RandomDocRows { get; init; }

    private EnsembleBatch(int members, int queries, int docs) => (Members, Queries, Docs) = (members, queries, docs);

    /// <param name="queryItemOffset">Where query rows start among the items (docs come first: the corpus size).</param>
    /// <param name="device">The members' device; the tensors belong to the caller's dispose scope.</param>
    public static EnsembleBatch Stack(IReadOnlyList<BatchRows> members, long queryItemOffset, Device device)
    {
        var k = members.Count;
        var b = members[0].QueryRows.Length;
        if (members.Any(m => m.QueryRows.Length != b))
            throw new ArgumentException($"ensemble members draw batches of {string.Join(", ", members.Select(m => m.QueryRows.Length).Distinct())} queries; expected one batch size for all (members must have enough train pairs for the batch)");
        var m = members.Max(r => r.DocRows.Length);
        var randomDocs = members[0].RandomDocRows.Length;
        if (members.Any(r => r.RandomDocRows.Length != randomDocs))
            throw new ArgumentException($"ensemble members draw {string.Join(", ", members.Select(r => r.RandomDocRows.Length).Distinct())} random docs; expected one count for all");
        var random = members.SelectMany(r => r.RandomDocRows.Select(row => (long)row)).ToArray();
        var items = new long[k * (b + m)];
        var relevance = new float[k * b * m];
        var positive = new long[k * b];
        var valid = new bool[k * m];
        var (preferredMember, preferredRow, preferredColumn) = (new List<long>(), new List<long>(), new List<long>());
        for (var member = 0; member < k; member++)
        {
            var rows = members[member];
            var docs = rows.DocRows.Length;
            var itemRow = items.AsSpan(member * (b + m), b + m);
            for (var i = 0; i < b; i++) itemRow[i] = queryItemOffset + rows.QueryRows[i];
            for (var j = 0; j < m; j++) itemRow[b + j] = rows.DocRows[j < docs ? j : 0];
            for (var j = 0; j < docs; j++) valid[member * m + j] = true;
            rows.PositiveColumn.CopyTo(positive, member * b);
            for (var i = 0; i < b; i++)
                for (var j = 0; j < docs; j++)
                {
                    var label = rows.Relevance[i * docs + j];
                    relevance[(member * b + i) * m + j] = label;
                    if (label > 0) { preferredMember.Add(member); preferredRow.Add(member * b + i); preferredColumn.Add(j); }
                }
        }
        return new EnsembleBatch(k, b, m)
        {
            Items = tensor(items, [k, b + m], device: device),
            Relevance = tensor(relevance, [k, b, m], device: device),
            PositiveColumn = tensor(positive, [k, b], device: device),
            DocValid = tensor(valid, [k, m], device: device),
            PreferredMember = tensor(preferredMember.ToArray(), device: device),
            PreferredRow = tensor(preferredRow.ToArray(), device: device),
            PreferredColumn = tensor(preferredColumn.ToArray(), device: device),
            RandomDocRows = tensor(random, [k, randomDocs], device: device),
        };
    }

    /// <summary>For a batch kept beyond a step's scope (a benchmark's fixed batch).</summary>
    public void Dispose()
    {
        foreach (var t in new[] { Items, Relevance, PositiveColumn, DocValid, PreferredMember, PreferredRow, PreferredColumn, RandomDocRows }) t.Dispose();
    }
}
