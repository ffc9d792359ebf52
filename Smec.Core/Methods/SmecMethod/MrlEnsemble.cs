using Smec.Core.Losses;
using Smec.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>One MRL member of an ensemble: its layer (initial weights in, best weights out), its training
/// data (its fold and validation queries), its loop seed and its loss form (a grid point).</summary>
public sealed record MrlMember(SmrlStep Step, TrainingSet Set, long Seed, RankingLossForm Form);

/// <summary>
/// MRL (SMEC with SMRL, ADS and S-XBM off: one layer, the ranking loss summed over nested prefixes) for K
/// members at once, on <see cref="EnsembleTrainingLoop"/>. The K layers are one [K, out, in] weight and
/// one [K, out] bias; a step is one batched product over every member's rows and one batched loss
/// (<see cref="EnsembleRankingLoss"/>). Member k computes what <see cref="SmrlStepObjective"/> computes
/// for its step alone (tests/Smec.Tests/EnsembleTests.fs compares them).
/// </summary>
public sealed class MrlEnsemble : IEnsembleTask, IDisposable
{
    private readonly IReadOnlyList<MrlMember> _members;
    private readonly SmecOptions _options;
    private readonly Parameter _weight, _bias;
    private readonly PairBatcher[] _batchers;
    private readonly ValidationScorer[] _scorers;
    /// <summary>[Nc + Nq, D]: every doc then every query (the items every member's rows index; members share them).</summary>
    private readonly Tensor _items;
    private readonly long _corpusRows;
    private readonly int[] _views;

    /// <summary>Train the members together; each member's step then holds its best-validation weights.</summary>
    public static IReadOnlyList<TrainingResult> Train(IReadOnlyList<MrlMember> members, SmecOptions options, TrainingOptions training)
    {
        using var ensemble = new MrlEnsemble(members, options, training);
        var results = EnsembleTrainingLoop.Run(ensemble, training, members.Select(m => m.Seed).ToArray());
        ensemble.WriteBack();
        return results;
    }

    public MrlEnsemble(IReadOnlyList<MrlMember> members, SmecOptions options, TrainingOptions training)
    {
        if (members.Count == 0) throw new ArgumentException("an MRL ensemble needs at least one member");
        if (options.Smrl || options.Ads || options.Sxbm || options.SimilarityWeight > 0)
            throw new ArgumentException("the MRL ensemble trains SMEC with SMRL, ADS and S-XBM off and no similarity term; " +
                $"got smrl {options.Smrl}, ads {options.Ads}, sxbm {options.Sxbm}, similarity weight {options.SimilarityWeight} (train those alone)");
        var first = members[0];
        foreach (var (member, k) in members.Select((m, k) => (m, k)))
        {
            var step = member.Step;
            if (step.Residual || step.InputDim != first.Step.InputDim || step.OutputDim != first.Step.OutputDim
                || !step.SelectionDims.SequenceEqual(first.Step.SelectionDims))
                throw new ArgumentException($"MRL member {k}: a {(step.Residual ? "residual " : "")}{step.InputDim}->{step.OutputDim} step with views " +
                    $"[{string.Join(",", step.SelectionDims)}]; expected member 0's plain {first.Step.InputDim}->{first.Step.OutputDim} step with views [{string.Join(",", first.Step.SelectionDims)}]");
            if (!ReferenceEquals(member.Set.Corpus, first.Set.Corpus) && !(Same(member.Set.Corpus, first.Set.Corpus) && Same(member.Set.Queries, first.Set.Queries)))
                throw new ArgumentException($"MRL member {k} trains on other embeddings than member 0; expected the members of one dataset and encoder");
        }
        _members = members;
        _options = options;
        _views = first.Step.SelectionDims.Prepend(first.Step.OutputDim).ToArray();
        using (no_grad())
        {
            _weight = new Parameter(stack(members.Select(m => m.Step.Layer.weight!.detach()).ToArray()).contiguous());
            _bias = new Parameter(stack(members.Select(m => m.Step.Layer.bias!.detach()).ToArray()).contiguous());
            _items = SmrlStepObjective.Items(first.Set);
        }
        _corpusRows = first.Set.Corpus.shape[0];
        _batchers = members.Select(m => new PairBatcher(m.Set, training.BatchSize, training.HardNegativesPerQuery, 0, m.Seed)).ToArray();
        _scorers = members.Select(m => new ValidationScorer(m.Set)).ToArray();
        ParameterGroups = [new ParameterGroup([_weight, _bias])];
    }

    private static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var scope = NewDisposeScope();
        return a.eq(b).all().item<bool>();
    }

    public int Members => _members.Count;
    public IReadOnlyList<ParameterGroup> ParameterGroups { get; }
    public int StepsPerEpoch(int member) => _batchers[member].StepsPerEpoch;
    public bool CanValidate => _scorers.All(s => s.HasQueries);
    public string ValidationMeasure => "val nDCG@10";

    /// <summary>[K, out, in]: every member's layer weight (the optimizer's view; tests read it).</summary>
    public Tensor Weight => _weight;

    public Tensor Losses(IReadOnlyList<TrainingStep> steps)
    {
        var batch = EnsembleBatch.Stack(steps.Select((s, k) => _batchers[k].Rows(s.Step)).ToArray(), _corpusRows, _weight.device);
        return StepLosses(_weight, _bias, _items, batch, _views, _members.Select(m => m.Form).ToArray(), _options.LossTemperature);
    }

    /// <summary>
    /// The [K] losses of one ensemble step: every member's rows through its layer in one batched product,
    /// then the ranking loss on the full output and on each nested prefix, summed (SmrlStepLoss without ADS).
    /// One function for training and for `smec bench`, so the benchmarked step is the trained one.
    /// </summary>
    /// <param name="weight">[K, out, in]; <paramref name="bias"/> [K, out].</param>
    /// <param name="items">[N, in]: the rows <paramref name="batch"/>.Items index.</param>
    /// <param name="views">The output's width, then each nested prefix.</param>
    public static Tensor StepLosses(Tensor weight, Tensor bias, Tensor items, EnsembleBatch batch, IReadOnlyList<int> views,
        IReadOnlyList<RankingLossForm> forms, double temperature)
    {
        var inputs = items.index_select(0, batch.Items.flatten()).view(batch.Members, batch.Queries + batch.Docs, -1);
        // TorchSharp's baddbmm: this (batch1) @ batch2 + mat, i.e. inputs W^T + b, as Linear's addmm for one member.
        var output = inputs.baddbmm(weight.transpose(1, 2), bias.unsqueeze(1));
        return NestedLoss.Sum(views, dim =>
        {
            var view = output.narrow(2, 0, dim);
            return EnsembleRankingLoss.Compute(forms, view.narrow(1, 0, batch.Queries), view.narrow(1, batch.Queries, batch.Docs), batch, temperature);
        });
    }

    public double Validate(int member) => _scorers[member].Score(new MemberView(this, member));

    /// <summary>Copy every member's weights into its own step (after training: its best weights).</summary>
    public void WriteBack()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (var k = 0; k < _members.Count; k++)
        {
            _members[k].Step.Layer.weight!.copy_(_weight[k]);
            _members[k].Step.Layer.bias!.copy_(_bias[k]);
        }
    }

    public void Dispose()
    {
        _weight.Dispose();
        _bias.Dispose();
        _items.Dispose();
    }

    /// <summary>One member's layer seen as an objective, for its validation scorer: the full output and its prefixes.</summary>
    private sealed class MemberView(MrlEnsemble ensemble, int member) : ITrainingObjective
    {
        public IReadOnlyList<ParameterGroup> ParameterGroups => [];
        public Tensor Loss(TrainingBatch batch, TrainingStep step) => throw new InvalidOperationException("a member view only compresses");
        public IReadOnlyList<int> ValidationDims => ensemble._views;
        public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role) => CompressEach(embeddings, [dim], role)[0];

        public IReadOnlyList<Tensor> CompressEach(Tensor embeddings, IReadOnlyList<int> dims, EmbeddingRole role)
        {
            using var _ = no_grad();
            var output = nn.functional.linear(embeddings, ensemble._weight[member], ensemble._bias[member]);
            return dims.Select(dim => output.narrow(1, 0, dim)).ToArray();
        }

        public string Fingerprint => $"mrl-ensemble-member-{member}";
    }
}
