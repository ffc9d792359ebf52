using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// One batch of (query, positive, negatives), all frozen-encoder embeddings. Docs are the union of
/// the sampled positives and the mined hard negatives (deduplicated); <see cref="Relevance"/> holds the
/// graded train qrels for every (query, doc) pair, so an in-batch doc that another query judged
/// relevant is not treated as a negative. Tensors live in the step's dispose scope.
/// </summary>
public sealed class TrainingBatch
{
    /// <summary>[B, D] query embeddings.</summary>
    public required Tensor Queries { get; init; }
    /// <summary>[M, D] candidate document embeddings.</summary>
    public required Tensor Docs { get; init; }
    /// <summary>[B, M] float32 graded relevance of doc m for query i (0 = not judged relevant).</summary>
    public required Tensor Relevance { get; init; }
    /// <summary>[B] int64 column in Docs of the positive sampled for query i.</summary>
    public required Tensor PositiveColumn { get; init; }
    /// <summary>[R, D] random corpus docs (for similarity-preservation terms); R = TrainingOptions.RandomDocs, may be 0.</summary>
    public required Tensor RandomDocs { get; init; }
    /// <summary>Row of each query in the query matrix.</summary>
    public required int[] QueryRows { get; init; }
    /// <summary>Row of each candidate doc in the corpus matrix.</summary>
    public required int[] DocRows { get; init; }
    /// <summary>Row of each random doc in the corpus matrix.</summary>
    public required int[] RandomDocRows { get; init; }
    /// <summary>The data the batch was drawn from (ids, qrels), for objectives that need identities.</summary>
    public required TrainingSet Set { get; init; }

    public int Size => QueryRows.Length;
}
