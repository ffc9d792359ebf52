namespace Smec.Core.Methods;

/// <summary>
/// A compressor that can be fitted together with others of its kind: the K compressors of K experiments
/// that differ only in their seed (and, for k-fold folds, their training data), each built for its own
/// experiment and not yet fitted. <see cref="FitTogether"/> fits all K so that each ends as
/// <see cref="ICompressor.Fit"/> would have left it alone (the same training arithmetic per member, the
/// same selection per dim and grid point), only faster where one batched step of K members beats K
/// steps (a GPU). A method that cannot express a configuration together says why, and its members are
/// then fitted alone, each as its own experiment.
/// </summary>
public interface IEnsembleFit
{
    /// <summary>Null when <paramref name="members"/> (this compressor among them, first) can be fitted together; else why not, in words.</summary>
    string? CannotFitTogether(IReadOnlyList<ICompressor> members);

    /// <summary>Fit every member on its own training data (<paramref name="data"/>[k] for <paramref name="members"/>[k]).</summary>
    void FitTogether(IReadOnlyList<ICompressor> members, IReadOnlyList<TrainingData> data);
}

public static class EnsembleFit
{
    /// <summary>Why <paramref name="members"/> cannot be fitted together (null: they can).</summary>
    public static string? CannotFitTogether(IReadOnlyList<ICompressor> members) =>
        members.Count < 2 ? "one member: nothing to fit together"
        : members[0] is IEnsembleFit first ? first.CannotFitTogether(members)
        : $"{members[0].Name} ({members[0].GetType().Name}) does not fit members together (it does not implement {nameof(IEnsembleFit)})";
}
