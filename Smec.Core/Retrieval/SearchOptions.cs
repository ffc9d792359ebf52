namespace Smec.Core.Retrieval;

/// <summary>Options of exact search (and of evaluation built on it).</summary>
public sealed record SearchOptions
{
    /// <summary>The default score-block budget: 256 MiB of float32 scores per query chunk.</summary>
    public const long DefaultScoreBlockBytes = 256L << 20;

    public Similarity Similarity { get; init; } = Similarity.Cosine;

    /// <summary>
    /// Drop the document whose id equals the query id (BEIR's ignore_identical_ids; also how a
    /// query is kept out of its own gallery in image retrieval). Off by default, as in trec_eval.
    /// </summary>
    public bool IgnoreIdenticalIds { get; init; }

    /// <summary>
    /// Memory bound of one score block (query chunk x all documents, float32). The chunk has
    /// max(1, ScoreBlockBytes / (4 * documents)) queries; the block is allocated once and reused.
    /// </summary>
    public long ScoreBlockBytes { get; init; } = DefaultScoreBlockBytes;

    public static SearchOptions Default { get; } = new();
}
