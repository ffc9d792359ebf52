using Smec.Core.Data;
using Smec.Core.Methods;
using Smec.Core.Storage;

namespace Smec.Core.Training;

/// <summary>
/// Carves validation queries out of the training queries by a fixed seed (the catalog's rule:
/// SciFact holds out 100 of its 809 train queries). The test split is never involved.
/// </summary>
public static class ValidationSplit
{
    /// <summary>The held-out query ids: a seeded shuffle of the sorted train query ids, first <paramref name="count"/>.</summary>
    public static IReadOnlyList<string> HeldOutQueries(Qrels train, int count, long seed)
    {
        var ids = train.QueryIds.OrderBy(q => q, StringComparer.Ordinal).ToArray();
        if (count < 0 || count >= ids.Length)
            throw new ArgumentException($"cannot hold out {count} of {ids.Length} train queries for validation");
        SeedMix.Random(seed, stream: 17, index: 0).Shuffle(ids);
        return ids.Take(count).OrderBy(q => q, StringComparer.Ordinal).ToArray();
    }

    /// <summary>TrainingData whose Train keeps every train query except the held-out ones, which form Validation.</summary>
    public static TrainingData Carve(EmbeddingMatrix corpus, EmbeddingMatrix queries, Qrels train, int validationQueries, long seed)
    {
        var heldOut = HeldOutQueries(train, validationQueries, seed);
        var heldOutSet = heldOut.ToHashSet(StringComparer.Ordinal);
        return new TrainingData(corpus, queries,
            train.Restrict(train.QueryIds.Where(q => !heldOutSet.Contains(q))),
            train.Restrict(heldOut), seed);
    }
}
