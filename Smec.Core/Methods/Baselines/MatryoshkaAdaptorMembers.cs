using Smec.Core.Losses;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// What the members of a Matryoshka-Adaptor ensemble may differ in, and the check that they differ in nothing
/// else. Per member: the seed, the training set (fold), the loss weights alpha, beta, gamma and the ranking-loss
/// form. Shared: everything else in the options (dims, top-k, batch, budget, stop rule, selection, temperature,
/// reconstruction norm, function class and hidden width) and the adaptors' input map (the mapped rows are
/// computed once for all). The learning rate, weight decay and optimizer are shared too: the ensemble has one
/// AdamOptimizer, whose rate is one number for every parameter it updates (it has no per-member rate).
/// </summary>
internal static class MatryoshkaAdaptorMembers
{
    private static readonly IReadOnlyList<RankingLossForm> NoCandidates = [];

    /// <summary>The options with the per-member fields blanked: equal for every member of one ensemble.</summary>
    private static MatryoshkaAdaptorOptions Shared(MatryoshkaAdaptorOptions options) => options with
    {
        Alpha = 0, Beta = 0, Gamma = 0, RankingLoss = RankingLossForm.InfoNce, RankingLossCandidates = NoCandidates, Progress = false,
    };

    /// <summary>Throws unless every member shares member 0's options (but for alpha, beta, gamma and the ranking
    /// loss), function class, widths and input map; QueryAnchors must be 0 (each fold's own query anchors are not batched).</summary>
    public static void Check(string method, IReadOnlyList<MatryoshkaAdaptorOptions> options, IReadOnlyList<ResidualAdaptor> adaptors)
    {
        if (options.Count == 0) throw new ArgumentException($"{method}: an ensemble needs at least one member");
        var first = Shared(options[0]);
        if (first.QueryAnchors != 0)
            throw new ArgumentException($"{method}: option query_anchors is {first.QueryAnchors}; the ensemble trains corpus anchors only (query_anchors=0): fit those members alone");
        var firstDescription = first.Describe().ToDictionary(kv => kv.Key, kv => kv.Value);
        for (var k = 1; k < options.Count; k++)
        {
            var shared = Shared(options[k]);
            if (shared == first) continue;
            var differing = shared.Describe().Where(kv => firstDescription.GetValueOrDefault(kv.Key) != kv.Value).Select(kv => $"{kv.Key} '{kv.Value}' vs '{firstDescription.GetValueOrDefault(kv.Key)}'").ToArray();
            throw new ArgumentException($"{method}: member {k}'s options differ from member 0's in more than alpha, beta, gamma and the ranking loss " +
                $"({(differing.Length > 0 ? string.Join("; ", differing) : "learning rate, budget or another loop setting")}); expected one ensemble per shared setting");
        }
        var adaptor = adaptors[0];
        for (var k = 0; k < adaptors.Count; k++)
        {
            var other = adaptors[k];
            if (other.FunctionClass != options[k].FunctionClass || other.Dim != adaptor.Dim || other.HiddenDim != adaptor.HiddenDim || other.FunctionClass != adaptor.FunctionClass)
                throw new ArgumentException($"{method}: member {k}'s adaptor is {other.FunctionClass} {other.Dim}-{other.HiddenDim}; expected member 0's {adaptor.FunctionClass} {adaptor.Dim}-{adaptor.HiddenDim} (and its options' function class)");
            if (k > 0 && !SameInputMap(adaptor, other))
                throw new ArgumentException($"{method}: member {k}'s adaptor has another input map (corpus mean / PCA basis) than member 0's; expected one map for all (members of one corpus and input option)");
        }
    }

    private static bool SameInputMap(ResidualAdaptor a, ResidualAdaptor b)
    {
        using var scope = NewDisposeScope();
        var (x, y) = (a.named_buffers().ToDictionary(t => t.name, t => t.buffer), b.named_buffers().ToDictionary(t => t.name, t => t.buffer));
        return x.Keys.All(name => y.TryGetValue(name, out var other) && x[name].shape.SequenceEqual(other.shape) && x[name].eq(other).all().item<bool>());
    }

    /// <summary>[K] float32 of one number per member, on <paramref name="device"/>.</summary>
    public static Tensor PerMember(IEnumerable<double> values, Device device) => tensor(values.Select(v => (float)v).ToArray(), device: device);

    /// <summary>The dims as MatryoshkaAdaptor orders them: distinct, largest first (the first is the per-dim primary).</summary>
    public static int[] Ordered(IReadOnlyList<int> dims) => dims.Distinct().OrderByDescending(d => d).ToArray();
}
