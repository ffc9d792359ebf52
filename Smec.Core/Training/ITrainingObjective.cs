using Smec.Core.Methods;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>Parameters that share one learning rate (e.g. ADS logits may learn faster than a layer).</summary>
public sealed record ParameterGroup(IReadOnlyList<TorchSharp.Modules.Parameter> Parameters, double LearningRateScale = 1.0, double? WeightDecay = null);

/// <summary>Where the loop stands when it asks for a loss (annealing schedules read it).</summary>
/// <param name="Step">0-based optimizer step.</param>
/// <param name="TotalSteps">The step budget (the loop may stop earlier).</param>
/// <param name="Generator">Seeded from (seed, step): draw any training noise (Gumbel, sampling) from it,
/// so that a resumed run draws the same numbers.</param>
public sealed record TrainingStep(int Step, int TotalSteps, int Epoch, Generator Generator)
{
    /// <summary>Fraction of the step budget done, in [0, 1].</summary>
    public double Progress => TotalSteps <= 1 ? 1.0 : Math.Min(1.0, (double)Step / (TotalSteps - 1));
}

/// <summary>
/// What a method trains, seen from the shared loop: parameters, a loss for a batch, and a way to
/// compress embeddings so the loop can measure validation nDCG@10 for early stopping.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>Parameters the optimizer updates in this run (frozen ones are simply not listed).</summary>
    IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    /// <summary>A scalar loss for the batch. Called inside the loop's dispose scope, in training mode.</summary>
    Tensor Loss(TrainingBatch batch, TrainingStep step);

    /// <summary>Called after the optimizer step (e.g. to push the batch into a cross-batch memory).</summary>
    void AfterStep(TrainingBatch batch, TrainingStep step) { }

    /// <summary>Dims whose mean validation nDCG@10 drives early stopping.</summary>
    IReadOnlyList<int> ValidationDims { get; }

    /// <summary>Compress frozen-encoder embeddings [n, D] to <paramref name="dim"/> (inference mode, no grad).</summary>
    Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role);

    /// <summary>
    /// <see cref="Compress"/> at each of <paramref name="dims"/> (validation asks for all of them at
    /// once). An objective whose dims are views of one forward pass overrides this to run it once;
    /// each result must equal its own Compress bit for bit.
    /// </summary>
    IReadOnlyList<Tensor> CompressEach(Tensor embeddings, IReadOnlyList<int> dims, EmbeddingRole role) =>
        dims.Select(dim => Compress(embeddings, dim, role)).ToArray();

    /// <summary>State besides parameters that a resumed run needs bit-exact (a memory queue, counters).
    /// Restored in place with copy_, so the tensors must keep their shapes.</summary>
    IReadOnlyList<(string Name, Tensor Value)> ExtraState => [];

    /// <summary>Describes the configuration; a checkpoint is only resumed when this matches.</summary>
    string Fingerprint { get; }
}
