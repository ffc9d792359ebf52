namespace Smec.Core.Metrics;

/// <summary>
/// trec_eval's ranking rule: it ignores the rank column and sorts by score, compared as float32
/// (its results store `float sim`), descending; equal scores are ordered by document id in
/// DESCENDING strcmp (ordinal) order. Every path that ranks documents follows this rule.
/// </summary>
public static class TrecOrder
{
    /// <summary>Negative when (scoreA, idA) ranks before (scoreB, idB).</summary>
    public static int Compare(float scoreA, string idA, float scoreB, string idB)
    {
        if (scoreA > scoreB) return -1;
        if (scoreA < scoreB) return 1;
        return string.CompareOrdinal(idB, idA);
    }

    /// <summary>
    /// For each document index, its position among the ids sorted in descending ordinal order:
    /// among equal scores, the smaller position ranks first. Computed once per corpus so that tie
    /// breaking in the search loop compares integers, not strings.
    /// </summary>
    public static int[] TieRanks(IReadOnlyList<string> docIds)
    {
        var order = Enumerable.Range(0, docIds.Count).ToArray();
        Array.Sort(order, (a, b) => string.CompareOrdinal(docIds[b], docIds[a]));
        var ranks = new int[docIds.Count];
        for (var position = 0; position < order.Length; position++) ranks[order[position]] = position;
        return ranks;
    }
}
