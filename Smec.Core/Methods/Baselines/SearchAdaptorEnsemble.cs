using Smec.Core.Losses;
using Smec.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>One Search-Adaptor member of an ensemble: its model and query predictor (initial weights in, best
/// weights out), its grid point (alpha, beta) and loss form, and its data and loop seed. Members may
/// differ in target dim (Search-Adaptor trains one model per dim).</summary>
public sealed record SearchAdaptorMember(SearchAdaptorModel Model, Linear Predictor, RegularizerWeights Weights, RankingLossForm Form, TrainingSet Set, long Seed);

/// <summary>A Search-Adaptor ensemble's weights, each with the member dim first. Projections to different
/// target dims are padded to the widest: member k's rows past its dim d_k (and its predictor's columns past
/// d_k) are zero and stay zero (they carry no value into any loss term, so they get no gradient).</summary>
/// <param name="Hidden">[K, H, D] and <paramref name="HiddenBias"/> [K, H]: f's first layer (null in the linear form: no adaptor, e' = e).</param>
/// <param name="Output">[K, D, H] and <paramref name="OutputBias"/> [K, D]: f's second layer (e' = e + f(e); null in the linear form).</param>
/// <param name="Projection">[K, dmax, D] and <paramref name="ProjectionBias"/> [K, dmax].</param>
/// <param name="Predictor">[K, D, dmax] and <paramref name="PredictorBias"/> [K, D]: the query predictor.</param>
public sealed record SearchAdaptorWeights(Tensor? Hidden, Tensor? HiddenBias, Tensor? Output, Tensor? OutputBias,
    Tensor Projection, Tensor ProjectionBias, Tensor Predictor, Tensor PredictorBias)
{
    /// <summary>The trained tensors (the adaptor's only in the residual-MLP form).</summary>
    public Tensor[] All => [.. new[] { Hidden, HiddenBias, Output, OutputBias }.OfType<Tensor>(), Projection, ProjectionBias, Predictor, PredictorBias];

    /// <summary>e + f(e) for rows [K, N, D]; e itself in the linear form.</summary>
    public Tensor Adapt(Tensor x) => Hidden is null ? x
        : x.Add(EnsembleLayers.Affine(nn.functional.relu(EnsembleLayers.Affine(x, Hidden, HiddenBias!)), Output!, OutputBias!));

    /// <summary>Member <paramref name="member"/>'s e + f(e) for rows [N, D]; e itself in the linear form.</summary>
    public Tensor AdaptMember(int member, Tensor x) => Hidden is null ? x
        : x.Add(nn.functional.linear(nn.functional.relu(nn.functional.linear(x, Hidden[member], HiddenBias![member])), Output![member], OutputBias![member]));
}

/// <summary>
/// Search-Adaptor (<see cref="SearchAdaptorObjective"/>) for K members at once on <see cref="EnsembleTrainingLoop"/>:
/// the seeds, (alpha, beta) grid points, loss forms and target dims of one dataset and encoder, in one function
/// class (the residual MLP then the projection, or the linear form: the projection alone, whose recovery term is
/// then exactly zero as alone). Member k computes what SearchAdaptorObjective computes for its model alone
/// (tests/Smec.Tests/EnsembleTests.fs; the linear form through whole fits, tests/Smec.Tests/EnsembleFitSearchAdaptorTests.fs).
/// </summary>
public sealed class SearchAdaptorEnsemble : RetrievalEnsembleTask
{
    private readonly IReadOnlyList<SearchAdaptorMember> _members;
    private readonly SearchAdaptorOptions _options;
    private readonly SearchAdaptorWeights _weights;
    private readonly RankingLossForm[] _forms;
    /// <summary>[K] each member's alpha and beta (a member without a term has 0: the term then adds exactly 0).</summary>
    private readonly Tensor _alpha, _beta;

    /// <summary>Train the members together; each member's model and predictor then hold its best-validation weights.</summary>
    public static IReadOnlyList<TrainingResult> Train(IReadOnlyList<SearchAdaptorMember> members, SearchAdaptorOptions options, TrainingOptions training)
    {
        using var ensemble = new SearchAdaptorEnsemble(members, options, training);
        return ensemble.Train(training);
    }

    public SearchAdaptorEnsemble(IReadOnlyList<SearchAdaptorMember> members, SearchAdaptorOptions options, TrainingOptions training)
        : base(members.Select(m => new EnsembleMemberData(m.Set, m.Seed)).ToArray(), training, "Search-Adaptor ensemble")
    {
        // Its batched weights are the residual MLP (in that form) and the projection; one form for every member.
        var first = members[0].Model;
        var residual = options.FunctionClass == FunctionClass.ResidualMlp;
        for (var k = 0; k < members.Count; k++)
        {
            var model = members[k].Model;
            if (model.FunctionClass != options.FunctionClass)
                throw new ArgumentException($"Search-Adaptor member {k}: function_class={ProtocolRecord.Word(model.FunctionClass)}; expected the ensemble's {ProtocolRecord.Word(options.FunctionClass)}");
            if (model.InputDim != first.InputDim || model.HiddenDim != first.HiddenDim)
                throw new ArgumentException($"Search-Adaptor member {k}: a {model.InputDim}-{model.HiddenDim} adaptor; expected member 0's {first.InputDim}-{first.HiddenDim}");
            if (residual && HasInputMap(model))
                throw new ArgumentException($"Search-Adaptor member {k}: its adaptor has an input map; expected none (Search-Adaptor adapts e itself)");
        }
        _members = members;
        _options = options;
        _forms = members.Select(m => m.Form).ToArray();
        var widest = members.Max(m => m.Model.TargetDim);
        using (no_grad())
        {
            Tensor Stacked(Func<SearchAdaptorMember, Tensor> of) =>
                new Parameter(stack(members.Select(m => of(m).detach()).ToArray()).contiguous());
            Tensor? Adaptor(string name) => residual ? Stacked(m => Param(m, name)) : null;
            Tensor Param(SearchAdaptorMember m, string name) => m.Model.named_parameters().First(p => p.name == name).parameter;
            // Pad a member's projection rows / predictor columns past its dim with zeros.
            Tensor Rows(Tensor t) => nn.functional.pad(t, [0, 0, 0, widest - t.shape[0]]);
            Tensor Entries(Tensor t) => nn.functional.pad(t, [0, widest - t.shape[0]]);
            Tensor Columns(Tensor t) => nn.functional.pad(t, [0, widest - t.shape[1]]);
            _weights = new SearchAdaptorWeights(
                Adaptor("adaptor.hidden.weight"), Adaptor("adaptor.hidden.bias"),
                Adaptor("adaptor.output.weight"), Adaptor("adaptor.output.bias"),
                Stacked(m => Rows(Param(m, "projection.weight"))), Stacked(m => Entries(Param(m, "projection.bias"))),
                Stacked(m => Columns(m.Predictor.weight!)), Stacked(m => m.Predictor.bias!));
            _alpha = tensor(members.Select(m => (float)m.Weights.Alpha).ToArray(), device: _weights.Projection.device);
            _beta = tensor(members.Select(m => (float)m.Weights.Beta).ToArray(), device: _weights.Projection.device);
        }
        ParameterGroups = [new ParameterGroup(_weights.All.Cast<Parameter>().ToArray())];
    }

    private static bool HasInputMap(SearchAdaptorModel model)
    {
        using var scope = NewDisposeScope();
        var buffers = model.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        var basis = buffers["adaptor.inputBasis"];
        return buffers["adaptor.inputMean"].count_nonzero().item<long>() != 0
            || !basis.eq(eye(basis.shape[0], device: basis.device)).all().item<bool>();
    }

    public override IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    protected override Tensor Losses(EnsembleBatch batch, Tensor items) =>
        StepLosses(_weights, items, batch, _forms, _alpha, _beta, _options.RecoveryNorm, _options.Temperature);

    /// <summary>
    /// The [K] losses of one step: the ranking loss on the projected queries and docs, alpha x the recovery of
    /// the full-width adaptor output (over each member's real rows only), beta x the query prediction from the
    /// positives. One function for training and for `smec bench`.
    /// </summary>
    public static Tensor StepLosses(SearchAdaptorWeights weights, Tensor items, EnsembleBatch batch, IReadOnlyList<RankingLossForm> forms,
        Tensor alpha, Tensor beta, ReconstructionNorm recoveryNorm, double temperature)
    {
        var (k, b, m) = (batch.Members, batch.Queries, batch.Docs);
        var x = EnsembleLayers.Rows(items, batch);
        var adapted = weights.Adapt(x);
        var projected = EnsembleLayers.Affine(adapted, weights.Projection, weights.ProjectionBias);
        var docs = projected.narrow(1, b, m);
        var ranking = EnsembleRankingLoss.Compute(forms, projected.narrow(1, 0, b), docs, batch, temperature);

        // Recovery: the mean per coordinate over the member's queries and real docs (ReconstructionLoss per member).
        var difference = adapted - x;
        var perRow = (recoveryNorm == ReconstructionNorm.L1 ? difference.abs() : difference * difference).sum([2]);
        var realRows = cat([ones(k, b, dtype: ScalarType.Bool, device: x.device), batch.DocValid], 1).to(ScalarType.Float32);
        var recovery = (perRow * realRows).sum([1]) / realRows.sum([1]).Times(x.shape[2]);

        // Query prediction from each query's positive (QueryPredictionLoss per member, weighted by its relevance).
        var positiveColumn = batch.PositiveColumn.unsqueeze(2);
        var positives = docs.gather(1, positiveColumn.expand(k, b, docs.shape[2]));
        var predicted = EnsembleLayers.Affine(positives, weights.Predictor, weights.PredictorBias);
        var relevance = batch.Relevance.gather(2, positiveColumn).squeeze(2);
        var perPair = (predicted - x.narrow(1, 0, b)).abs().mean([2]);
        var prediction = (perPair * relevance).sum([1]) / relevance.sum([1]);

        return ranking.Add(recovery * alpha).Add(prediction * beta);
    }

    protected override IReadOnlyList<int> ValidationDims(int member) => [_members[member].Model.TargetDim];

    protected override IReadOnlyList<Tensor> CompressEach(int member, Tensor embeddings, IReadOnlyList<int> dims)
    {
        var w = _weights;
        var adapted = w.AdaptMember(member, embeddings);
        var dim = _members[member].Model.TargetDim;
        var projected = nn.functional.linear(adapted, w.Projection[member].narrow(0, 0, dim), w.ProjectionBias[member].narrow(0, 0, dim));
        return dims.Select(d => d == dim ? projected
            : throw new ArgumentException($"Search-Adaptor member {member} compresses to {dim} dims, not {d}")).ToArray();
    }

    /// <summary>Copy every member's weights into its own model and predictor (after training: its best weights).</summary>
    protected override void WriteBack()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (var k = 0; k < _members.Count; k++)
        {
            var (model, predictor) = (_members[k].Model, _members[k].Predictor);
            var dim = model.TargetDim;
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            if (_weights.Hidden is { } hidden)
            {
                parameters["adaptor.hidden.weight"].copy_(hidden[k]);
                parameters["adaptor.hidden.bias"].copy_(_weights.HiddenBias![k]);
                parameters["adaptor.output.weight"].copy_(_weights.Output![k]);
                parameters["adaptor.output.bias"].copy_(_weights.OutputBias![k]);
            }
            parameters["projection.weight"].copy_(_weights.Projection[k].narrow(0, 0, dim));
            parameters["projection.bias"].copy_(_weights.ProjectionBias[k].narrow(0, 0, dim));
            predictor.weight!.copy_(_weights.Predictor[k].narrow(1, 0, dim));
            predictor.bias!.copy_(_weights.PredictorBias[k]);
        }
    }

    public override void Dispose()
    {
        foreach (var t in _weights.All) t.Dispose();
        _alpha.Dispose();
        _beta.Dispose();
        base.Dispose();
    }
}
