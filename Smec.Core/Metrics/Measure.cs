namespace Smec.Core.Metrics;

/// <summary>
/// The measure families, in the order trec_eval 9.0.8 prints them (its measure table order), so
/// our output lines come out in the same order as trec_eval's.
/// </summary>
public enum MeasureKind
{
    /// <summary>trec_eval recip_rank: 1/rank of the first relevant document (0 if none); with a cutoff, MRR@k.</summary>
    RecipRank,
    /// <summary>trec_eval P.k: relevant documents in the top k, divided by k (always k).</summary>
    Precision,
    /// <summary>trec_eval recall.k: relevant documents in the top k, divided by all relevant judged documents.</summary>
    Recall,
    /// <summary>trec_eval ndcg_cut.k: linear gain (the qrels value), discount 1/log2(rank+1), ideal from the query's qrels.</summary>
    Ndcg,
    /// <summary>trec_eval map_cut.k: average precision counting only relevant documents in the top k, over all relevant.</summary>
    MapCut,
}

/// <summary>
/// One measure: a family and a cutoff (rank depth). <see cref="Cutoff"/> is 0 only for
/// recip_rank over the whole ranking. Names follow trec_eval (`ndcg_cut_10`, `P_10`,
/// `recall_100`, `map_cut_10`, `recip_rank`); `recip_rank_10` (MRR@10) is our extension, as
/// trec_eval has no cutoff for recip_rank.
/// </summary>
public readonly record struct Measure : IComparable<Measure>
{
    public MeasureKind Kind { get; }
    public int Cutoff { get; }

    public Measure(MeasureKind kind, int cutoff)
    {
        if (cutoff < 0 || (cutoff == 0 && kind != MeasureKind.RecipRank))
            throw new ArgumentOutOfRangeException(nameof(cutoff), $"{kind} needs a positive cutoff, got {cutoff}");
        Kind = kind;
        Cutoff = cutoff;
    }

    public static Measure NdcgCut(int k) => new(MeasureKind.Ndcg, k);
    public static Measure PrecisionAt(int k) => new(MeasureKind.Precision, k);
    public static Measure RecallAt(int k) => new(MeasureKind.Recall, k);
    public static Measure MapCut(int k) => new(MeasureKind.MapCut, k);
    /// <summary>trec_eval recip_rank (whole ranking).</summary>
    public static Measure RecipRank => new(MeasureKind.RecipRank, 0);
    /// <summary>MRR@k: recip_rank counting only the top k.</summary>
    public static Measure RecipRankAt(int k) => new(MeasureKind.RecipRank, k);

    /// <summary>nDCG@10, the headline measure of the paper.</summary>
    public static Measure Ndcg10 => NdcgCut(10);

    /// <summary>The deepest rank this measure looks at, or null when it needs the whole ranking.</summary>
    public int? Depth => Cutoff == 0 ? null : Cutoff;

    /// <summary>trec_eval's printed name.</summary>
    public string Name => Kind switch
    {
        MeasureKind.RecipRank => Cutoff == 0 ? "recip_rank" : $"recip_rank_{Cutoff}",
        MeasureKind.Precision => $"P_{Cutoff}",
        MeasureKind.Recall => $"recall_{Cutoff}",
        MeasureKind.Ndcg => $"ndcg_cut_{Cutoff}",
        MeasureKind.MapCut => $"map_cut_{Cutoff}",
        _ => throw new InvalidOperationException($"unknown measure kind {Kind}"),
    };

    public override string ToString() => Name;

    public int CompareTo(Measure other) =>
        Kind != other.Kind ? Kind.CompareTo(other.Kind) : Cutoff.CompareTo(other.Cutoff);

    private static readonly (string Family, MeasureKind Kind)[] Families =
    [
        ("ndcg_cut", MeasureKind.Ndcg), ("P", MeasureKind.Precision), ("recall", MeasureKind.Recall),
        ("map_cut", MeasureKind.MapCut), ("recip_rank", MeasureKind.RecipRank),
    ];

    /// <summary>
    /// Parse one trec_eval measure argument: `ndcg_cut.10`, `ndcg_cut.5,10,100`, `P.10`,
    /// `recall.100`, `map_cut.10`, `recip_rank`; also the printed forms (`ndcg_cut_10`).
    /// </summary>
    public static IReadOnlyList<Measure> Parse(string spec)
    {
        var text = spec.Trim();
        foreach (var (family, kind) in Families)
        {
            if (text == family && kind == MeasureKind.RecipRank) return [RecipRank];
            if (text.Length <= family.Length + 1 || !text.StartsWith(family, StringComparison.Ordinal)) continue;
            var separator = text[family.Length];
            if (separator != '.' && separator != '_') continue;
            var cutoffs = text[(family.Length + 1)..].Split(',');
            var measures = new List<Measure>(cutoffs.Length);
            foreach (var c in cutoffs)
            {
                if (!int.TryParse(c, out var k) || k <= 0)
                    throw new FormatException($"measure '{spec}': cutoff '{c}' is not a positive integer");
                measures.Add(new Measure(kind, k));
            }
            return measures;
        }
        throw new FormatException(
            $"unknown measure '{spec}'; expected one of ndcg_cut.K, P.K, recall.K, map_cut.K, recip_rank, recip_rank.K (K may be a comma list: ndcg_cut.5,10,100)");
    }

    /// <summary>Parse several arguments; the result is de-duplicated and in trec_eval's print order.</summary>
    public static IReadOnlyList<Measure> ParseAll(IEnumerable<string> specs) =>
        specs.SelectMany(Parse).Distinct().Order().ToArray();
}
