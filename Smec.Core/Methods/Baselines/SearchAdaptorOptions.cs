using System.Globalization;
using Smec.Core.Losses;
using Smec.Core.Training;

namespace Smec.Core.Methods.Baselines;

/// <summary>One (alpha, beta) point of Search-Adaptor's hyper-parameter grid.</summary>
public readonly record struct RegularizerWeights(double Alpha, double Beta)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"alpha={Alpha:R} beta={Beta:R}");
}

/// <summary>How the per-dimension projection of Search-Adaptor starts.</summary>
public enum ProjectionInit { Pca, Prefix }

/// <summary>
/// Search-Adaptor's configuration. Reported setup (Yoon et al. 2024): Adam, lr 1e-3, batch 128,
/// 2000 iterations, alpha (L1 recovery) in {0, 0.1, 1} and beta (query prediction) in
/// {0, 0.01, 0.1} chosen on validation (<see cref="FullGrid"/>, 9 adaptors per target dimension).
/// The method registry gives <see cref="Grid"/> one point per fit and searches its grids through
/// option tuning (Smec.Experiments, MethodRegistry.fs), as it does every trained method's weights.
/// </summary>
public sealed record SearchAdaptorOptions : AdaptorTrainingOptions
{
    public static IReadOnlyList<RegularizerWeights> FullGrid { get; } =
        [.. from a in new[] { 0.0, 0.1, 1.0 } from b in new[] { 0.0, 0.01, 0.1 } select new RegularizerWeights(a, b)];

    /// <summary>How each dim's grid point is chosen (see <see cref="DimSelection"/>). PerDim (the paper's, and what
    /// every dim's own model allows): each dim keeps the (alpha, beta) point and loss form with its best validation
    /// nDCG@10. Shared: one point and loss form for every dim, the best mean over dims of each dim's validation.
    /// Either way each dim's model trains and early-stops on that dim alone.</summary>
    public DimSelection Selection { get; init; } = DimSelection.PerDim;
    public IReadOnlyList<RegularizerWeights> Grid { get; init; } = FullGrid;
    /// <summary>Width of f's hidden layer; null = the encoder's width. Residual-MLP form only.</summary>
    public int? HiddenDim { get; init; }
    /// <summary>What each per-dim model is (option function_class, one meaning for every trained
    /// method): ResidualMlp (default, the paper's form) = the residual adaptor e + W2 relu(W1 e), then
    /// the linear projection to d; Linear = the projection alone (D*d + d parameters), initialised as
    /// <see cref="ProjectionInit"/> says. The losses are the same; in the linear form the adapted
    /// embedding is e itself, so the recovery term (alpha) is zero.</summary>
    public FunctionClass FunctionClass { get; init; } = FunctionClass.ResidualMlp;
    public ProjectionInit ProjectionInit { get; init; } = ProjectionInit.Pca;
    public ReconstructionNorm RecoveryNorm { get; init; } = ReconstructionNorm.L1;
    /// <summary>The form the objective uses (Fit sets it to each of <see cref="RankingLossCandidates"/> in turn).</summary>
    public RankingLossForm RankingLoss { get; init; } = RankingLossForm.Pairwise;
    /// <summary>The ranking-loss forms tried at every grid point, kept on validation per dim: the paper's
    /// pairwise form alone by default; the local profile tries InfoNCE and pairwise as every trained method does.</summary>
    public IReadOnlyList<RankingLossForm> RankingLossCandidates { get; init; } = [RankingLossForm.Pairwise];
    public int MaxSteps { get; init; } = 2000;

    public TrainingOptions Loop(int dim, RegularizerWeights weights) =>
        LoopOptions(MaxSteps, randomDocs: 0, $"{SearchAdaptor.MethodName} d={dim} {weights} {RankingLoss}");

    public IEnumerable<KeyValuePair<string, string>> Describe()
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        yield return new("grid searched", string.Join("; ", Grid));
        yield return new("function class", FunctionClass == FunctionClass.Linear
            ? "linear: the projection to d alone (no adaptor; the recovery term is zero)"
            : "residual-mlp: e + W2 relu(W1 e) (W2 starting at zero, the paper's adaptor), then the projection to d");
        yield return new("projection init", ProjectionInit == ProjectionInit.Pca ? "corpus PCA" : "prefix (first d coordinates)");
        yield return new("recovery norm", RecoveryNorm.ToString());
        yield return new("query predictor", "linear d -> D on adapted relevant docs, target the frozen query (inferred form)");
        yield return new("ranking loss", $"best on validation of {string.Join(", ", RankingLossCandidates)}, temperature {F(Temperature)}, {HardNegativesPerQuery} hard negative(s) per query from the top {HardNegativePool}");
        yield return new("steps", $"up to {MaxSteps}, validation every {EvaluateEvery}, patience {PatienceSteps} steps");
        yield return new("selection", Selection == DimSelection.PerDim
            ? "per dim: each dim its own grid point and loss form on validation"
            : "shared: one grid point and loss form for every dim, on the mean validation nDCG@10 over dims");
        yield return new("optimizer", OptimizerText);
    }
}
