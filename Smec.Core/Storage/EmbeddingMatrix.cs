namespace Smec.Core.Storage;

/// <summary>
/// A dense float32 matrix of embeddings, one row per item, rows in the order of <see cref="Ids"/>.
/// Row-major storage so it maps straight onto .npy files and torch tensors.
/// </summary>
public sealed class EmbeddingMatrix
{
    public IReadOnlyList<string> Ids { get; }
    public float[] Values { get; }
    public int Rows => Ids.Count;
    public int Dim { get; }

    public EmbeddingMatrix(IReadOnlyList<string> ids, float[] values, int dim)
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), "dim must be positive");
        if (values.Length != (long)ids.Count * dim)
            throw new ArgumentException($"{ids.Count} ids x {dim} dims needs {ids.Count * (long)dim} values, got {values.Length}");
        Ids = ids;
        Values = values;
        Dim = dim;
    }

    public ReadOnlySpan<float> Row(int index) => Values.AsSpan(index * Dim, Dim);

    /// <summary>Row index of each id (ids are unique in a well-formed matrix).</summary>
    public Dictionary<string, int> IndexById()
    {
        var map = new Dictionary<string, int>(Rows, StringComparer.Ordinal);
        for (var i = 0; i < Rows; i++)
            if (!map.TryAdd(Ids[i], i)) throw new InvalidDataException($"duplicate id '{Ids[i]}' at row {i}");
        return map;
    }

    /// <summary>The rows with the given ids, in that order.</summary>
    public EmbeddingMatrix Select(IReadOnlyList<string> ids)
    {
        var index = IndexById();
        var values = new float[ids.Count * (long)Dim];
        for (var i = 0; i < ids.Count; i++)
        {
            if (!index.TryGetValue(ids[i], out var row)) throw new KeyNotFoundException($"id '{ids[i]}' is not in this matrix");
            Row(row).CopyTo(values.AsSpan(i * Dim, Dim));
        }
        return new EmbeddingMatrix(ids, values, Dim);
    }
}
