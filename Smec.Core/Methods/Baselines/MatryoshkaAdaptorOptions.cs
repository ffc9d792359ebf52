using System.Globalization;
using Smec.Core.Losses;
using Smec.Core.Training;

namespace Smec.Core.Methods.Baselines;

/// <summary>The input map in front of Matryoshka-Adaptor (see <see cref="MatryoshkaAdaptorOptions.Input"/>).</summary>
public enum AdaptorInput { PerVariant, Raw, Centred, PcaBasis }

/// <summary>How a stage's step budget is counted: MaxStepsPerStage per stage (the paper profile: 5000
/// per stage as reported), or per trained dim, so that the adaptor that serves every target dim gets
/// the same steps per produced dim as SMEC's steps and Search-Adaptor's per-dim models (the local
/// profile): each stage gets MaxStepsPerStage x (target dims below the input) / (number of stages).</summary>
public enum AdaptorBudget { PerStage, PerTrainedDim }

/// <summary>
/// Matryoshka-Adaptor's configuration. Reported setup (Yoon et al. 2024): Adam, lr 1e-3, batch 128,
/// up to 5000 iterations, early stopping with patience 500; top-k with k = 10. The loss weights are
/// not given in the public record: they are options, recorded with every result.
/// </summary>
public sealed record MatryoshkaAdaptorOptions : AdaptorTrainingOptions
{
    /// <summary>How each dim's weights are chosen in the supervised stage (see <see cref="DimSelection"/>). Shared
    /// (the paper's one Matryoshka model): one checkpoint and loss form on the mean validation nDCG@10 over dims.
    /// PerDim: each dim served by the adaptor snapshot (and loss form) with the best validation nDCG@10 at it.
    /// The unsupervised stage reads no label, so it has nothing to select per dim.</summary>
    public DimSelection Selection { get; init; } = DimSelection.Shared;
    /// <summary>false: the unsupervised stage only ("MA-unsup"); true: then the supervised stage.</summary>
    public bool Supervised { get; init; } = true;
    /// <summary>Width of f's hidden layer; null = the encoder's width. Residual-MLP form only.</summary>
    public int? HiddenDim { get; init; }
    /// <summary>What the adaptor is (option function_class, one meaning for every trained method):
    /// ResidualMlp (default, the paper's form) = e + W2 relu(W1 e); Linear = e + W e + b, one affine
    /// map starting at the identity (see <see cref="ResidualAdaptor"/> for why x + Wx).</summary>
    public FunctionClass FunctionClass { get; init; } = FunctionClass.ResidualMlp;
    /// <summary>
    /// What the adaptor sees; PerVariant = the variant's default: Raw for the unsupervised variant (as the
    /// paper: the adaptor starts as the identity on the encoder's own embeddings) and PcaBasis for the
    /// labelled two-stage variant. Centred: e minus the corpus mean, so the similarities preserved are
    /// centred cosines. PcaBasis: the centred embedding in the corpus PCA basis (an orthonormal change
    /// of basis, so every full-width cosine is unchanged): prefixes start as PCA's.
    /// </summary>
    public AdaptorInput Input { get; init; } = AdaptorInput.PerVariant;
    /// <summary>The input map in effect (see <see cref="Input"/>).</summary>
    public AdaptorInput ResolvedInput => Input != AdaptorInput.PerVariant ? Input : Supervised ? AdaptorInput.PcaBasis : AdaptorInput.Raw;
    public AdaptorBudget Budget { get; init; } = AdaptorBudget.PerStage;

    /// <summary>The step budget of each stage for an adaptor serving <paramref name="trainedDims"/> target dims below its input.</summary>
    public int StageSteps(int trainedDims) => Budget == AdaptorBudget.PerStage
        ? MaxStepsPerStage
        : Math.Max(1, MaxStepsPerStage * trainedDims / (Supervised ? 2 : 1));
    /// <summary>How the unsupervised (corpus-only) stage stops; it never reads a label either way.</summary>
    public UnsupervisedStop UnsupervisedStop { get; init; } = UnsupervisedStop.HeldOutLoss;
    /// <summary>Corpus docs held out of the unsupervised stage to score its stop criterion (at most a fifth of the corpus).</summary>
    public int UnsupervisedHeldOutDocs { get; init; } = 512;
    public int TopK { get; init; } = 10;
    /// <summary>
    /// Unlabelled train-query embeddings added to each batch's anchors (0 = corpus only, as the
    /// paper). A query's neighbours are its top-k documents under the frozen encoder, so the top-k
    /// loss keeps the frozen encoder's query-document geometry; no relevance judgement is read.
    /// Validation queries are never among them.
    /// </summary>
    public int QueryAnchors { get; init; } = 0;
    /// <summary>Weight of the pairwise loss (the objective is L_topk + alpha L_pair + beta L_rec [+ gamma L_rank]).</summary>
    public double Alpha { get; init; } = 1.0;
    /// <summary>Weight of the reconstruction loss.</summary>
    public double Beta { get; init; } = 1.0;
    /// <summary>Weight of the ranking loss (supervised stage only).</summary>
    public double Gamma { get; init; } = 1.0;
    public ReconstructionNorm ReconstructionNorm { get; init; } = ReconstructionNorm.L1;
    /// <summary>The ranking-loss forms the supervised stage tries, each from the same unsupervised
    /// state; the one with the best validation nDCG@10 is kept and recorded (as SMEC's loss form was
    /// chosen on validation). One form = no choice. On SciFact InfoNCE wins (0.7476 against 0.6579,
    /// mean of 24 and 48 dims); on other data the pairwise form can (Flickr8k-1k's joint space).</summary>
    public IReadOnlyList<RankingLossForm> RankingLossCandidates { get; init; } = [RankingLossForm.InfoNce, RankingLossForm.Pairwise];
    /// <summary>The form the supervised objective uses (Fit sets it to each candidate in turn).</summary>
    public RankingLossForm RankingLoss { get; init; } = RankingLossForm.InfoNce;
    public int MaxStepsPerStage { get; init; } = 5000;

    /// <summary>A copy with the unsupervised-only switch set (F# callers cannot use `with`).</summary>
    public MatryoshkaAdaptorOptions With(bool supervised) => this with { Supervised = supervised };

    public string Name => Supervised ? MatryoshkaAdaptor.SupervisedName : MatryoshkaAdaptor.UnsupervisedName;

    /// <summary>Loop options of one stage (the batch's random corpus docs are the unsupervised anchors).</summary>
    public TrainingOptions Loop(string stage, int trainedDims) => LoopOptions(StageSteps(trainedDims), BatchSize, $"{Name} ({stage})");

    public IEnumerable<KeyValuePair<string, string>> Describe()
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        yield return new("supervised", Supervised ? "yes (unsupervised stage, then all four terms)" : "no (unsupervised stage only)");
        yield return new("function class", FunctionClass == FunctionClass.Linear
            ? "linear: e + W e + b (one affine map, W and b starting at zero)"
            : "residual-mlp: e + W2 relu(W1 e) (W2 starting at zero, the paper's adaptor)");
        yield return new("adaptor input", ResolvedInput switch
        {
            AdaptorInput.Raw => "raw embeddings (as the paper)",
            AdaptorInput.Centred => "centred on the corpus mean",
            _ => "centred, in the corpus PCA basis (starts as PCA)",
        });
        yield return new("top_k", TopK.ToString(CultureInfo.InvariantCulture));
        yield return new("alpha (pairwise)", F(Alpha));
        yield return new("beta (reconstruction)", F(Beta));
        if (Supervised) yield return new("gamma (ranking)", F(Gamma));
        yield return new("reconstruction norm", ReconstructionNorm.ToString());
        if (Supervised) yield return new("ranking loss", $"best on validation of {string.Join(", ", RankingLossCandidates)}, temperature {F(Temperature)}, {HardNegativesPerQuery} hard negative(s) per query from the top {HardNegativePool}");
        yield return new("neighbours", "k nearest corpus items under the frozen encoder");
        yield return new("anchors per batch", QueryAnchors > 0
            ? $"{BatchSize} random corpus docs + {QueryAnchors} unlabelled train queries (their top-k docs as neighbours)"
            : $"{BatchSize} random corpus docs (corpus only)");
        yield return new("unsupervised stop", UnsupervisedStop == UnsupervisedStop.HeldOutLoss
            ? $"corpus only; stops on the unsupervised loss of {UnsupervisedHeldOutDocs} held-out corpus docs (patience {PatienceSteps} steps)"
            : "corpus only; runs its whole step budget");
        yield return new("steps per stage", Budget == AdaptorBudget.PerStage
            ? $"up to {MaxStepsPerStage}, validation every {EvaluateEvery}, patience {PatienceSteps} steps"
            : $"up to {MaxStepsPerStage} per trained dim over {(Supervised ? "both stages" : "the stage")}, validation every {EvaluateEvery}, patience {PatienceSteps} steps");
        if (Supervised) yield return new("selection", Selection == DimSelection.PerDim
            ? "per dim: each dim its best snapshot and loss form on validation"
            : "shared: one checkpoint and loss form on the mean validation nDCG@10 over dims");
        yield return new("optimizer", OptimizerText);
    }
}
