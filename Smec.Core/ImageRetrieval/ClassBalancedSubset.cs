using Smec.Core.Training;

namespace Smec.Core.ImageRetrieval;

/// <summary>
/// A deterministic class-balanced subset: from each class, <c>perClass</c> items chosen by a seeded
/// shuffle of that class's items (in storage order). The same seed gives the same items, and a
/// smaller <c>perClass</c> gives a subset of a larger one (both take a prefix of one shuffle), so
/// feature extraction sized for the time budget stays comparable across sizes.
/// </summary>
public static class ClassBalancedSubset
{
    /// <summary>Seed stream of the per-class shuffles (kept apart from the training loop's streams).</summary>
    private const long ShuffleStream = 41;

    /// <summary>The chosen items, in their original storage order.</summary>
    /// <param name="what">Names the collection in errors (e.g. "cifar10 train").</param>
    public static IReadOnlyList<T> Select<T>(IReadOnlyList<T> items, Func<T, int> label, int perClass, long seed, string what)
    {
        if (perClass <= 0) throw new ArgumentOutOfRangeException(nameof(perClass), $"{what}: items per class must be positive, got {perClass}");
        var byClass = new SortedDictionary<int, List<int>>();
        for (var i = 0; i < items.Count; i++)
        {
            var c = label(items[i]);
            if (!byClass.TryGetValue(c, out var rows)) byClass[c] = rows = [];
            rows.Add(i);
        }
        var chosen = new List<int>(perClass * byClass.Count);
        foreach (var (c, rows) in byClass)
        {
            if (rows.Count < perClass)
                throw new ArgumentException($"{what}: class {c} has {rows.Count} items, fewer than the {perClass} per class asked for");
            var order = rows.ToArray();
            SeedMix.Random(seed, ShuffleStream, c).Shuffle(order);
            chosen.AddRange(order.Take(perClass));
        }
        chosen.Sort();
        return chosen.Select(i => items[i]).ToArray();
    }
}
