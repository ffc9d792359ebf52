namespace Smec.Core.Retrieval;

/// <summary>How a query and a document are scored.</summary>
public enum Similarity
{
    /// <summary>Cosine: rows are L2-normalised (after any dimension truncation) before the dot product.</summary>
    Cosine,
    /// <summary>Plain inner product of the rows as given.</summary>
    Dot,
}
