using System.Diagnostics;
using Smec.Core.Storage;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>One member of a Matryoshka-Adaptor ensemble's corpus-only stage: its adaptor (initial weights in,
/// kept weights out), its options (alpha and beta are its own) and its seed (held-out docs and anchors).</summary>
public sealed record MatryoshkaAdaptorCorpusMember(ResidualAdaptor Adaptor, MatryoshkaAdaptorOptions Options, long Seed);

/// <summary>
/// Matryoshka-Adaptor's corpus-only stage (<see cref="CorpusOnlyStage"/>) for K members at once on
/// <see cref="EnsembleTrainingLoop"/>: each member draws its own held-out docs and anchors from its seed and stops
/// on its own held-out unsupervised loss; the initial weights are no candidate, as alone. Member k computes what
/// CorpusOnlyStage computes for its adaptor alone (tests/Smec.Tests/EnsembleTests.fs).
/// </summary>
public sealed class MatryoshkaAdaptorCorpusEnsemble : IEnsembleTask, IDisposable
{
    private const string Method = "Matryoshka-Adaptor ensemble (corpus only)";
    private readonly IReadOnlyList<MatryoshkaAdaptorCorpusMember> _members;
    private readonly MatryoshkaAdaptorOptions _options;
    private readonly MatryoshkaAdaptorWeights _weights;
    private readonly int[] _dims;
    private readonly Tensor _corpus;
    private readonly Tensor _neighbours;
    private readonly MappedEmbeddings _mapped;
    private readonly (int[] HeldOut, int[] TrainRows)[] _splits;
    private readonly Tensor _alpha, _beta;

    /// <summary>Train the members' corpus-only stage together on <paramref name="corpus"/> for the step budget
    /// MatryoshkaAdaptor.Fit gives it; each member's adaptor then holds its kept weights. One result per member.</summary>
    public static IReadOnlyList<CorpusOnlyResult> Train(IReadOnlyList<MatryoshkaAdaptorCorpusMember> members, EmbeddingMatrix corpus, IReadOnlyList<int> dims)
    {
        var clock = Stopwatch.StartNew();
        using var ensemble = new MatryoshkaAdaptorCorpusEnsemble(members, corpus, dims);
        var options = members[0].Options;
        var loop = CorpusOnlyStage.LoopOptions(options, options.StageSteps(ProtocolRecord.TrainedDims(ensemble._dims, corpus.Dim))) with
        {
            Label = $"{options.Name} x {members.Count} (unsupervised, corpus only)",
        };
        var results = EnsembleTrainingLoop.Run(ensemble, loop, members.Select(m => m.Seed).ToArray());
        ensemble._weights.WriteBack(members.Select(m => m.Adaptor).ToArray());
        var seconds = clock.Elapsed.TotalSeconds;
        return results.Select((r, k) => CorpusOnlyStage.Result(r, ensemble._splits[k].HeldOut.Length, seconds)).ToArray();
    }

    public MatryoshkaAdaptorCorpusEnsemble(IReadOnlyList<MatryoshkaAdaptorCorpusMember> members, EmbeddingMatrix corpus, IReadOnlyList<int> dims)
    {
        MatryoshkaAdaptorMembers.Check(Method, members.Select(m => m.Options).ToArray(), members.Select(m => m.Adaptor).ToArray());
        _members = members;
        _options = members[0].Options;
        _dims = MatryoshkaAdaptorMembers.Ordered(dims);
        var n = corpus.Rows;
        if (n < 2 * (_options.TopK + 1)) throw new ArgumentException($"{Method}: the corpus has {n} docs, too few for top-{_options.TopK} neighbours");
        _corpus = tensor(corpus.Values, [n, corpus.Dim]);
        _neighbours = CorpusNeighbours.Find(_corpus, _options.TopK);
        // The members share one input map (checked): the corpus is mapped once for all.
        _mapped = new MappedEmbeddings(members[0].Adaptor, _corpus);
        _splits = members.Select(m => CorpusOnlyStage.Split(n, m.Options, m.Seed)).ToArray();
        _weights = MatryoshkaAdaptorWeights.Stack(members.Select(m => m.Adaptor).ToArray());
        _alpha = MatryoshkaAdaptorMembers.PerMember(members.Select(m => m.Options.Alpha), _corpus.device);
        _beta = MatryoshkaAdaptorMembers.PerMember(members.Select(m => m.Options.Beta), _corpus.device);
        ParameterGroups = _weights.ParameterGroups;
    }

    public int Members => _members.Count;
    public IReadOnlyList<ParameterGroup> ParameterGroups { get; }
    public int StepsPerEpoch(int member) => Math.Max(1, _splits[member].TrainRows.Length / _options.BatchSize);

    public Tensor Losses(IReadOnlyList<TrainingStep> steps)
    {
        var rows = steps.SelectMany((s, k) => CorpusOnlyStage.AnchorRows(_splits[k].TrainRows, _options.BatchSize, _members[k].Seed, s.Step)).ToArray();
        var (k, r) = (steps.Count, rows.Length / steps.Count);
        var (anchors, neighbours) = CorpusOnlyStage.Gather(_mapped, _neighbours, rows);          // [K R, D], [K R, k, D]
        var topK = neighbours.shape[1];
        var width = anchors.shape[1];
        var memberAnchors = anchors.view(k, r, width);
        var memberNeighbours = neighbours.view(k, r * topK, width);
        // Two batched passes, not one over the concatenation (see MatryoshkaAdaptorEnsembleLoss.Supervised for why).
        return MatryoshkaAdaptorEnsembleLoss.Unsupervised(memberAnchors, _weights.ForwardCentred(memberAnchors), memberNeighbours.view(k, r, topK, width),
            _weights.ForwardCentred(memberNeighbours).view(k, r, topK, width), _dims, _alpha, _beta, _options.ReconstructionNorm);
    }

    public bool CanValidate => _splits.All(s => s.HeldOut.Length > 0);

    // As alone: the untrained adaptor is recorded but is no candidate (the stage trains; the stop only decides for how long).
    public bool InitialIsCandidate => false;

    /// <summary>Minus member <paramref name="member"/>'s unsupervised loss on its held-out docs (higher is better).</summary>
    public double Validate(int member)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (anchors, neighbours) = CorpusOnlyStage.Gather(_mapped, _neighbours, _splits[member].HeldOut.Select(r => (long)r).ToArray());
        var adaptedAnchors = _weights.ForwardCentred(member, anchors);
        var adaptedNeighbours = _weights.ForwardCentred(member, neighbours);
        var loss = MatryoshkaAdaptorEnsembleLoss.Unsupervised(anchors.unsqueeze(0), adaptedAnchors.unsqueeze(0), neighbours.unsqueeze(0),
            adaptedNeighbours.unsqueeze(0), _dims, _alpha.narrow(0, member, 1), _beta.narrow(0, member, 1), _options.ReconstructionNorm);
        return -loss.item<float>();
    }

    public string ValidationMeasure => "minus held-out unsupervised loss";

    public void Dispose()
    {
        _weights.Dispose();
        _mapped.Dispose();
        _neighbours.Dispose();
        _corpus.Dispose();
        _alpha.Dispose();
        _beta.Dispose();
    }
}
