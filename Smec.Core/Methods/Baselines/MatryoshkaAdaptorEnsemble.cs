using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>One member of a Matryoshka-Adaptor ensemble's supervised stage: its adaptor (the corpus-only stage's
/// weights in, its kept weights out), its options (alpha, beta, gamma and RankingLoss, the form it trains with,
/// are its own), its training set (its fold and validation queries) and its loop seed.</summary>
public sealed record MatryoshkaAdaptorMember(ResidualAdaptor Adaptor, MatryoshkaAdaptorOptions Options, TrainingSet Set, long Seed);

/// <summary>
/// Matryoshka-Adaptor's supervised stage (<see cref="MatryoshkaAdaptorObjective"/> with the ranking loss) for K
/// members at once on <see cref="EnsembleTrainingLoop"/>: the seeds, folds, (alpha, beta, gamma) grid points and
/// ranking-loss forms of one dataset and encoder, in either function class (the K adaptors are one set of
/// [K, ...] weights, <see cref="MatryoshkaAdaptorWeights"/>). Each member is validated at every dim (mean
/// nDCG@10, or its own snapshot per dim under selection=per-dim). Member k computes what the objective
/// computes for its adaptor alone (tests/Smec.Tests/EnsembleTests.fs). The members share one learning rate
/// (see <see cref="MatryoshkaAdaptorMembers"/>).
/// </summary>
public sealed class MatryoshkaAdaptorEnsemble : RetrievalEnsembleTask
{
    private const string Method = "Matryoshka-Adaptor ensemble";
    private readonly IReadOnlyList<MatryoshkaAdaptorMember> _members;
    private readonly MatryoshkaAdaptorOptions _options;
    private readonly MatryoshkaAdaptorWeights _weights;
    private readonly int[] _dims;
    private readonly RankingLossForm[] _forms;
    private readonly MappedEmbeddings _corpus, _queries;
    /// <summary>[Nc + Nq, D]: the mapped corpus, then the mapped queries, in the rows <see cref="EnsembleBatch.Items"/> index.</summary>
    private readonly Tensor _items;
    private readonly Tensor _neighbours;
    /// <summary>[K] each member's alpha, beta and gamma / |dims| (the ranking loss's weight per prefix).</summary>
    private readonly Tensor _alpha, _beta, _gammaPerDim;

    /// <summary>The supervised stage's loop options as MatryoshkaAdaptor.Fit sets them (budget, batch and random docs, patience).</summary>
    public static TrainingOptions Loop(MatryoshkaAdaptorOptions options, IReadOnlyList<int> dims, int inputDim, int members) =>
        options.Loop($"supervised, {members} members", ProtocolRecord.TrainedDims(MatryoshkaAdaptorMembers.Ordered(dims), inputDim));

    /// <summary>Train the members together with the loop options and selection MatryoshkaAdaptor.Fit uses; each member's
    /// adaptor then holds its best-validation weights (per-dim: the largest dim's), and under selection=per-dim
    /// each result's PerDim holds the member's snapshot per dim (in its adaptor's parameter order; the caller disposes them).</summary>
    public static IReadOnlyList<TrainingResult> Train(IReadOnlyList<MatryoshkaAdaptorMember> members, IReadOnlyList<int> dims)
    {
        var options = members[0].Options;
        var training = Loop(options, dims, (int)members[0].Set.Corpus.shape[1], members.Count);
        using var ensemble = new MatryoshkaAdaptorEnsemble(members, dims, training);
        return ensemble.Train(training, options.Selection);
    }

    public MatryoshkaAdaptorEnsemble(IReadOnlyList<MatryoshkaAdaptorMember> members, IReadOnlyList<int> dims, TrainingOptions training)
        : base(members.Select(m => new EnsembleMemberData(m.Set, m.Seed)).ToArray(), training, Method)
    {
        MatryoshkaAdaptorMembers.Check(Method, members.Select(m => m.Options).ToArray(), members.Select(m => m.Adaptor).ToArray());
        _members = members;
        _options = members[0].Options;
        _dims = MatryoshkaAdaptorMembers.Ordered(dims);
        _forms = members.Select(m => m.Options.RankingLoss).ToArray();
        var set = members[0].Set;
        // The members share one input map (checked) and one corpus (RetrievalEnsembleTask checks): mapped once for all,
        // as AnchorNeighbours maps them for one member.
        _corpus = new MappedEmbeddings(members[0].Adaptor, set.Corpus);
        _queries = new MappedEmbeddings(members[0].Adaptor, set.Queries);
        using (no_grad()) _items = cat([_corpus.Rows, _queries.Rows], 0);
        _neighbours = CorpusNeighbours.Find(set.Corpus, _options.TopK);
        _weights = MatryoshkaAdaptorWeights.Stack(members.Select(m => m.Adaptor).ToArray());
        var device = set.Corpus.device;
        _alpha = MatryoshkaAdaptorMembers.PerMember(members.Select(m => m.Options.Alpha), device);
        _beta = MatryoshkaAdaptorMembers.PerMember(members.Select(m => m.Options.Beta), device);
        _gammaPerDim = MatryoshkaAdaptorMembers.PerMember(members.Select(m => m.Options.Gamma / _dims.Length), device);
        ParameterGroups = _weights.ParameterGroups;
    }

    public override IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    /// <summary>The members' batched weights (the optimizer's view; tests and the bench read them).</summary>
    public MatryoshkaAdaptorWeights Weights => _weights;

    /// <summary>The loss reads the mapped rows (<see cref="_items"/>), not the frozen ones the base class hands in: the
    /// adaptor's input map is fixed, so mapping once is the same arithmetic as mapping every batch.</summary>
    protected override Tensor Losses(EnsembleBatch batch, Tensor items) =>
        MatryoshkaAdaptorEnsembleLoss.Supervised(_weights, _items, _corpus.Rows, _neighbours, batch, _dims, _forms, _alpha, _beta, _gammaPerDim,
            _options.ReconstructionNorm, _options.Temperature);

    protected override IReadOnlyList<int> ValidationDims(int member) => _dims;

    /// <summary>Member k's adaptor output and its prefixes (what the objective's CompressEach gives for its adaptor alone).</summary>
    protected override IReadOnlyList<Tensor> CompressEach(int member, Tensor embeddings, IReadOnlyList<int> dims)
    {
        var adapted = _weights.ForwardCentred(member, _members[0].Adaptor.Centre(embeddings));
        return dims.Select(d => adapted.narrow(1, 0, d)).ToArray();
    }

    protected override void WriteBack() => _weights.WriteBack(_members.Select(m => m.Adaptor).ToArray());

    public override void Dispose()
    {
        _weights.Dispose();
        _corpus.Dispose();
        _queries.Dispose();
        _items.Dispose();
        _neighbours.Dispose();
        _alpha.Dispose();
        _beta.Dispose();
        _gammaPerDim.Dispose();
        base.Dispose();
    }
}
