using System.Globalization;
using System.Text.Json.Serialization;
using Smec.Core.Losses;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>What feeds SMRL step s &gt; 1 (docs/METHOD.md, "SMRL": an open choice).</summary>
public enum StepInput { Full, SelectedHalf }

/// <summary>How a step's layer starts. Pca: the top principal directions of the step's input on the
/// corpus, centred by the bias (so the chain starts as PCA). Identity: keeps the leading input dims.
/// Random: torch's default Linear init. A residual step's branch always starts at zero.</summary>
public enum LayerInit { Pca, Identity, Random }

/// <summary>Whether the ladder continues one step below its smallest dim. None: the ladder as given. OneBelow:
/// one more step to half the smallest dim, so the smallest requested dim is a step's trained output (not
/// only a selection out of the step above); the extra dim is served but no table reports it.</summary>
public enum LadderExtension { None, OneBelow }

/// <summary>ADS logits at the start of a step: each dim's log-variance on the corpus (centred), or zeros.</summary>
public enum AdsLogitInit { Variance, Zero }

/// <summary>Which output serves a dim that the chain produces twice (step s's selected half and step s+1's
/// full output have the same size). Selection: the first one reached, so extending the chain never
/// changes an existing dim. StepOutput: the later step's full output. Validation (the default): Fit
/// chooses one of the two per dim on validation nDCG@10 and records the choice.</summary>
public enum DimSource { Validation, Selection, StepOutput }

/// <summary>How the nested loss weighs its views (the full output and each smaller selection or prefix).
/// Uniform: every view 1 (as MRL's paper and today's default). TowardSmall: view v of width d_v weighs
/// 1 + log2(d_max / d_v), scaled so the weights average 1 (the loss's scale, so the step size, stays):
/// 384, 192, 96, 48, 24 get 1/3, 2/3, 1, 4/3, 5/3; the small dims, where compression costs most, pull harder.</summary>
public enum DimWeighting { Uniform, TowardSmall }

/// <summary>Which batch samples look up neighbours in the S-XBM memory. Queries: the samples that have
/// labelled positives (docs/METHOD.md, "S-XBM": the record excludes "its own labelled positives"); QueriesAndDocs: the candidate docs too.</summary>
public enum SxbmAnchors { Queries, QueriesAndDocs }

/// <summary>
/// SMEC's options. Everything docs/METHOD.md marks inferred ("Inferred choices and the options that hold them") is here with its default; <see cref="Describe"/>
/// records them with every result.
/// </summary>
public sealed record SmecOptions
{
    /// <summary>The dimension ladder: input dim first, then each step's selected size (halving by default).</summary>
    public int[] Ladder { get; init; } = [384, 192, 96, 48, 24];
    /// <summary>How each served dim's weights are chosen (see <see cref="DimSelection"/>). Shared: each step keeps
    /// one checkpoint and loss form on the mean validation nDCG@10 over the dims it serves (today's). PerDim:
    /// each step keeps, for each dim it serves, the best snapshot and loss form at that dim; the chain passes
    /// the output dim's best to the next step.</summary>
    public DimSelection Selection { get; init; } = DimSelection.Shared;
    /// <summary>See <see cref="SmecMethod.LadderExtension"/>; None = the ladder as given.</summary>
    public LadderExtension LadderExtension { get; init; } = LadderExtension.None;
    /// <summary>Sequential steps (false: one layer trained with the summed nested losses, as MRL does).</summary>
    public bool Smrl { get; init; } = true;
    /// <summary>Learned dimension selection (false: prefix selection).</summary>
    public bool Ads { get; init; } = true;
    /// <summary>Cross-batch memory alignment (false: in-batch only).</summary>
    public bool Sxbm { get; init; } = true;

    /// <summary>A fixed skip path around each step: the layer's output plus the step's input (square
    /// step) or the previous step's selected dims (a halving step), the layer then starting at zero.
    /// Not the function class: <see cref="FunctionClass"/> says what each learned map is (one affine
    /// layer, or a residual MLP x + W2 relu(W1 x) before it); this flag adds an unlearned path from
    /// selected input dims to the output, and works with either form.</summary>
    public bool Residual { get; init; } = false;
    /// <summary>What each step's learned map is (option function_class, one meaning for every trained
    /// method): Linear (default, the paper's form) = the step's one affine layer; ResidualMlp = a
    /// residual MLP x + W2 relu(W1 x) (hidden width = the step's input width, W2 starting at zero) on
    /// the step's input, then that layer (still PCA-initialised).</summary>
    public FunctionClass FunctionClass { get; init; } = FunctionClass.Linear;
    public StepInput StepInput { get; init; } = StepInput.Full;
    public LayerInit Init { get; init; } = LayerInit.Pca;
    /// <summary>Validation (default): chosen per duplicated dim on validation after Fit; Selection or StepOutput fixes it.</summary>
    public DimSource DimSource { get; init; } = DimSource.Validation;

    /// <summary>The loss form the step objective uses (Fit sets it to each of <see cref="LossCandidates"/> in turn).</summary>
    public RankingLossForm LossForm { get; init; } = RankingLossForm.InfoNce;
    /// <summary>The ranking-loss forms every SMRL step tries, each from the same start; the step keeps the
    /// one with the best validation nDCG@10 (the shared local protocol: the same candidates as
    /// Matryoshka-Adaptor's supervised stage and Search-Adaptor).</summary>
    public IReadOnlyList<RankingLossForm> LossCandidates { get; init; } = [RankingLossForm.InfoNce, RankingLossForm.Pairwise];
    /// <summary>Scores are cosine / temperature in the supervised loss.</summary>
    public double LossTemperature { get; init; } = 0.05;
    /// <summary>Weight of the similarity-preservation term on random corpus docs (0 = off).</summary>
    public double SimilarityWeight { get; init; } = 0.0;
    /// <summary>The nested loss's weight per view (MRL's tuning grid searches it); Uniform is every view 1.</summary>
    public DimWeighting DimWeighting { get; init; } = DimWeighting.Uniform;
    public int SimilarityDocs { get; init; } = 256;

    public double AdsTemperatureStart { get; init; } = 1.0;
    public double AdsTemperatureEnd { get; init; } = 0.1;
    /// <summary>Steps over which the ADS temperature anneals (then it stays at the end value). Tied to a
    /// step count rather than the budget, because early stopping would otherwise end a step while its
    /// selection is still mostly noise. Early stopping waits until the anneal is done.</summary>
    public int AdsAnnealSteps { get; init; } = 300;
    /// <summary>The ADS initialisations each step tries (with each loss candidate), kept on validation:
    /// log-variance logits (the start is the strongest dims, i.e. PCA's prefix) or uniform (zeros).
    /// Default: Variance alone, so SMEC's grid is its 2 loss forms like every other trained method's
    /// (equal grids, equal budgets). In the 3-seed runs that searched both, Zero rarely beat Variance
    /// and often ended at its untrained start; a sweep can still search both.</summary>
    public IReadOnlyList<AdsLogitInit> AdsInitCandidates { get; init; } = [AdsLogitInit.Variance];
    /// <summary>The ADS logits' learning rate relative to the layer's (they start on another scale).</summary>
    public double AdsLearningRateScale { get; init; } = 10.0;

    public int SxbmCapacity { get; init; } = 4096;
    public int SxbmTopK { get; init; } = 10;
    public double SxbmWeight { get; init; } = 1.0;
    /// <summary>Steps during which the memory fills but its loss is not yet applied.</summary>
    public int SxbmWarmupSteps { get; init; } = 0;
    public SxbmAnchors SxbmAnchors { get; init; } = SxbmAnchors.Queries;

    [JsonIgnore] public int InputDim => Ladder[0];

    /// <summary>The ladder Fit trains: <see cref="Ladder"/>, plus half its smallest dim with LadderExtension OneBelow.</summary>
    [JsonIgnore] public int[] TrainedLadder => LadderExtension == LadderExtension.OneBelow ? [.. Ladder, Ladder[^1] / 2] : Ladder;

    public void Validate()
    {
        if (Ladder.Length < 2) throw new ArgumentException("the SMEC ladder needs the input dim and at least one target dim");
        for (var i = 1; i < Ladder.Length; i++)
            if (Ladder[i] < 1 || Ladder[i] >= Ladder[i - 1])
                throw new ArgumentException($"the SMEC ladder must decrease strictly and stay positive: [{string.Join(", ", Ladder)}]");
        if (LadderExtension == LadderExtension.OneBelow && Ladder[^1] < 2)
            throw new ArgumentException($"ladder_extension one-below halves the smallest dim, but the ladder ends at {Ladder[^1]}; expected a smallest dim of at least 2");
        if (!(LossTemperature > 0)) throw new ArgumentException($"LossTemperature must be > 0, got {LossTemperature}");
        if (!(AdsTemperatureStart > 0 && AdsTemperatureEnd > 0)) throw new ArgumentException("ADS temperatures must be > 0");
        if (SxbmTopK < 1) throw new ArgumentException($"SxbmTopK must be >= 1, got {SxbmTopK}");
        if (LossCandidates.Count == 0) throw new ArgumentException("LossCandidates must name at least one ranking-loss form");
        if (Ads && AdsInitCandidates.Count == 0) throw new ArgumentException("AdsInitCandidates must name at least one ADS initialisation");
    }

    /// <summary>The ADS temperature at a training step (exponential annealing start -> end over AdsAnnealSteps).</summary>
    public double AdsTemperature(int step) =>
        AdsTemperatureStart * Math.Pow(AdsTemperatureEnd / AdsTemperatureStart, Math.Clamp((double)step / Math.Max(1, AdsAnnealSteps), 0, 1));

    /// <summary>The nested loss's weight of each view, given the views' widths (<see cref="DimWeighting"/>).</summary>
    public static double[] ViewWeights(DimWeighting weighting, IReadOnlyList<int> widths)
    {
        if (weighting == DimWeighting.Uniform || widths.Count == 0) return widths.Select(_ => 1.0).ToArray();
        var largest = widths.Max();
        var raw = widths.Select(w => 1 + Math.Log2((double)largest / w)).ToArray();
        var mean = raw.Average();
        return raw.Select(w => w / mean).ToArray();
    }

    public IReadOnlyDictionary<string, string> Describe()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        return new SortedDictionary<string, string>
        {
            ["smec.ladder"] = string.Join("-", Ladder),
            ["smec.selection"] = Selection == DimSelection.PerDim ? "per dim (each served dim its best snapshot and loss form)" : "shared (each step one checkpoint on its mean over dims)",
            ["smec.ladder_extension"] = LadderExtension == LadderExtension.OneBelow ? $"one step below the smallest dim, to {TrainedLadder[^1]}" : "none",
            ["smec.smrl"] = Smrl.ToString(), ["smec.ads"] = Ads.ToString(), ["smec.sxbm"] = Sxbm.ToString(),
            ["smec.residual"] = Residual.ToString(), ["smec.step_input"] = StepInput.ToString(),
            ["smec.function_class"] = ProtocolRecord.Word(FunctionClass),
            ["smec.init"] = Init.ToString(), ["smec.dim_source"] = DimSource == DimSource.Validation ? "chosen on validation per dim" : DimSource.ToString(),
            ["smec.loss"] = $"best on validation of {string.Join(", ", LossCandidates)}", ["smec.loss_temperature"] = F(LossTemperature),
            ["smec.similarity_weight"] = F(SimilarityWeight), ["smec.dim_weighting"] = DimWeighting.ToString(), ["smec.similarity_docs"] = SimilarityDocs.ToString(CultureInfo.InvariantCulture),
            ["smec.ads_temperature"] = $"{F(AdsTemperatureStart)}->{F(AdsTemperatureEnd)} exponential over {AdsAnnealSteps} steps",
            ["smec.ads_init"] = Ads ? (AdsInitCandidates.Count == 1 ? AdsInitCandidates[0].ToString() : $"best on validation of {string.Join(", ", AdsInitCandidates)}") : "n/a", ["smec.ads_lr_scale"] = F(AdsLearningRateScale),
            ["smec.sxbm_capacity"] = SxbmCapacity.ToString(CultureInfo.InvariantCulture),
            ["smec.sxbm_top_k"] = SxbmTopK.ToString(CultureInfo.InvariantCulture),
            ["smec.sxbm_weight"] = F(SxbmWeight), ["smec.sxbm_anchors"] = SxbmAnchors.ToString(), ["smec.sxbm_warmup_steps"] = SxbmWarmupSteps.ToString(CultureInfo.InvariantCulture),
        };
    }
}
