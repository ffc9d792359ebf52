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
/// MRL (SMEC with SMRL, ADS and S-XBM off: one layer, the ranking loss summed over nested prefixes, each
/// weighted as option dim_weighting says) for K
/// members at once, on <see cref="EnsembleTrainingLoop"/>. The K layers are one [K, out, in] weight and
/// one [K, out] bias; a step is one batched product over every member's rows and one batched loss
/// (<see cref="EnsembleRankingLoss"/>). Member k computes what <see cref="SmrlStepObjective"/> computes
/// for its step alone (tests/Smec.Tests/EnsembleTests.fs compares them).
/// </summary>
public sealed class MrlEnsemble : RetrievalEnsembleTask
{
    private readonly IReadOnlyList<MrlMember> _members;
    private readonly SmecOptions _options;
    private readonly Parameter _weight, _bias;
    /// <summary>The members' residual MLPs before their layers (null in the linear form).</summary>
    private readonly StepMlps? _mlps;
    private readonly int[] _views;
    /// <summary>Each view's weight in the nested loss; null for uniform weighting (no multiplication, as SmrlStepLoss).</summary>
    private readonly double[]? _viewWeights;
    private readonly RankingLossForm[] _forms;

    /// <summary>Train the members together; each member's step then holds its best-validation weights.</summary>
    /// <param name="options">Shared by every member (the loss form is each member's own); its
    /// <see cref="SmecOptions.Selection"/> is the loop's, as SmecCompressor passes it to TrainingLoop.</param>
    public static IReadOnlyList<TrainingResult> Train(IReadOnlyList<MrlMember> members, SmecOptions options, TrainingOptions training)
    {
        using var ensemble = new MrlEnsemble(members, options, training);
        return ensemble.Train(training, options.Selection);
    }

    /// <summary>Why SMEC with these options is not an MRL ensemble member (null: it is).</summary>
    public static string? Unsupported(SmecOptions options) =>
        options.Smrl || options.Ads || options.Sxbm || options.SimilarityWeight > 0 || options.Residual
            ? $"the MRL ensemble trains SMEC with SMRL, ADS, S-XBM and the residual path off and no similarity term; got smrl {options.Smrl}, ads {options.Ads}, " +
              $"sxbm {options.Sxbm}, residual {options.Residual}, similarity weight {options.SimilarityWeight} (train those alone)"
            : null;

    public MrlEnsemble(IReadOnlyList<MrlMember> members, SmecOptions options, TrainingOptions training)
        : base(members.Select(m => new EnsembleMemberData(m.Set, m.Seed)).ToArray(), training, "MRL ensemble")
    {
        if (Unsupported(options) is { } why) throw new ArgumentException(why);
        if (members.Any(m => m.Step.FunctionClass != options.FunctionClass))
            throw new ArgumentException($"the MRL ensemble's members are of the options' function class ({options.FunctionClass}); " +
                $"got a member step of {members.First(m => m.Step.FunctionClass != options.FunctionClass).Step.FunctionClass}");
        var first = members[0].Step;
        foreach (var (step, k) in members.Select((m, k) => (m.Step, k)))
            if (step.Residual || step.InputDim != first.InputDim || step.OutputDim != first.OutputDim || !step.SelectionDims.SequenceEqual(first.SelectionDims))
                throw new ArgumentException($"MRL member {k}: a {(step.Residual ? "residual " : "")}{step.InputDim}->{step.OutputDim} step with views " +
                    $"[{string.Join(",", step.SelectionDims)}]; expected member 0's plain {first.InputDim}->{first.OutputDim} step with views [{string.Join(",", first.SelectionDims)}]");
        _members = members;
        _options = options;
        _views = first.SelectionDims.Prepend(first.OutputDim).ToArray();
        _viewWeights = options.DimWeighting == DimWeighting.Uniform ? null : SmecOptions.ViewWeights(options.DimWeighting, _views);
        _forms = members.Select(m => m.Form).ToArray();
        using (no_grad())
        {
            _weight = new Parameter(stack(members.Select(m => m.Step.Layer.weight!.detach()).ToArray()).contiguous());
            _bias = new Parameter(stack(members.Select(m => m.Step.Layer.bias!.detach()).ToArray()).contiguous());
            _mlps = StepMlps.Of(members.Select(m => m.Step).ToArray(), "MRL ensemble");
        }
        // The layer, then its MLP, as the step alone lists them (SmrlStep.TrainableParameters).
        ParameterGroups = [new ParameterGroup([_weight, _bias, .. _mlps?.Parameters ?? []])];
    }

    public override IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    /// <summary>[K, out, in]: every member's layer weight (the optimizer's view; tests read it).</summary>
    public Tensor Weight => _weight;

    protected override Tensor Losses(EnsembleBatch batch, Tensor items) =>
        StepLosses(_weight, _bias, items, batch, _views, _forms, _options.LossTemperature, _viewWeights, _mlps);

    /// <summary>
    /// The [K] losses of one ensemble step: every member's rows through its layer in one batched product,
    /// then the ranking loss on the full output and on each nested prefix, summed (SmrlStepLoss without ADS).
    /// One function for training and for `smec bench`, so the benchmarked step is the trained one.
    /// </summary>
    /// <param name="weight">[K, out, in]; <paramref name="bias"/> [K, out].</param>
    /// <param name="items">[N, in]: the rows <paramref name="batch"/>.Items index.</param>
    /// <param name="views">The output's width, then each nested prefix.</param>
    /// <param name="viewWeights">Each view's weight (SmecOptions.ViewWeights), or null: every view 1, nothing multiplied.</param>
    public static Tensor StepLosses(Tensor weight, Tensor bias, Tensor items, EnsembleBatch batch, IReadOnlyList<int> views,
        IReadOnlyList<RankingLossForm> forms, double temperature, IReadOnlyList<double>? viewWeights = null)
        => StepLosses(weight, bias, items, batch, views, forms, temperature, viewWeights, null);

    private static Tensor StepLosses(Tensor weight, Tensor bias, Tensor items, EnsembleBatch batch, IReadOnlyList<int> views,
        IReadOnlyList<RankingLossForm> forms, double temperature, IReadOnlyList<double>? viewWeights, StepMlps? mlps)
    {
        var rows = EnsembleLayers.Rows(items, batch);
        var output = EnsembleLayers.Affine(mlps is null ? rows : mlps.Adapt(rows), weight, bias);
        var viewIndex = 0;
        return NestedLoss.Sum(views, dim =>
        {
            var view = output.narrow(2, 0, dim);
            var term = EnsembleRankingLoss.Compute(forms, view.narrow(1, 0, batch.Queries), view.narrow(1, batch.Queries, batch.Docs), batch, temperature);
            var w = viewWeights?[viewIndex++];
            return w is { } weightOfView ? term.Times(weightOfView) : term;
        });
    }

    protected override IReadOnlyList<int> ValidationDims(int member) => _views;

    /// <summary>The member's output and its prefixes (what SmrlStepObjective.CompressEach gives for its step).</summary>
    protected override IReadOnlyList<Tensor> CompressEach(int member, Tensor embeddings, IReadOnlyList<int> dims)
    {
        var output = nn.functional.linear(_mlps is null ? embeddings : _mlps.AdaptMember(member, embeddings), _weight[member], _bias[member]);
        return dims.Select(dim => output.narrow(1, 0, dim)).ToArray();
    }

    /// <summary>Copy every member's weights into its own step (after training: its best weights).</summary>
    protected override void WriteBack()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (var k = 0; k < _members.Count; k++)
        {
            _members[k].Step.Layer.weight!.copy_(_weight[k]);
            _members[k].Step.Layer.bias!.copy_(_bias[k]);
            _mlps?.WriteBack(k, _members[k].Step);
        }
    }

    public override void Dispose()
    {
        _weight.Dispose();
        _bias.Dispose();
        _mlps?.Dispose();
        base.Dispose();
    }
}
