using Smec.Core.Storage;

namespace Smec.Core.ImageRetrieval;

/// <summary>Embeddings of class-labelled items: row i of <see cref="Embeddings"/> has label <c>Labels[i]</c>.</summary>
public sealed record LabelledEmbeddings
{
    public EmbeddingMatrix Embeddings { get; }
    public IReadOnlyList<int> Labels { get; }

    public LabelledEmbeddings(EmbeddingMatrix embeddings, IReadOnlyList<int> labels)
    {
        if (labels.Count != embeddings.Rows)
            throw new ArgumentException($"{embeddings.Rows} embedding rows but {labels.Count} labels");
        Embeddings = embeddings;
        Labels = labels;
    }

    public int Rows => Embeddings.Rows;

    /// <summary>The rows at the given indices, in that order.</summary>
    public LabelledEmbeddings SelectRows(IReadOnlyList<int> rows)
    {
        var dim = Embeddings.Dim;
        var values = new float[rows.Count * (long)dim];
        for (var i = 0; i < rows.Count; i++) Embeddings.Row(rows[i]).CopyTo(values.AsSpan(i * dim, dim));
        return new LabelledEmbeddings(
            new EmbeddingMatrix(rows.Select(r => Embeddings.Ids[r]).ToArray(), values, dim),
            rows.Select(r => Labels[r]).ToArray());
    }
}
