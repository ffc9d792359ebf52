// The shared training loop for an ensemble: K members of one method train as one batched model
// (IEnsembleTask: parameters with a leading member dim, one [K] loss per step). Each member keeps
// what it would have alone: its initial weights, batches and noise (seeded by its own seed), its
// Adam moments, its validation history, early stopping and best weights. A member that stops early
// is masked (MemberMask): the optimizer leaves its weights and moments as they are while the others go on.
//
// The step itself never reads a tensor back to the host (on a GPU the K members' steps queue without
// a sync): the per-member losses are summed on the device and read at validation, where the finite
// check, early stopping and best-weight copies happen. So a diverging member is reported at the
// validation after it diverged (TrainingLoop reports the step itself).
//
// Per-dim selection (Run(..., DimSelection.PerDim)) is TrainingLoop's, member by member: each member
// keeps a best snapshot of its own slice at each dim it serves (IEnsembleTask.ValidateByDim), counts a
// validation as an improvement when any of its dims improved, and gets its snapshots back in
// TrainingResult.PerDim; its parameters hold its first dim's best, as TrainingLoop leaves them.
//
// Not here yet: checkpoints and resume (an ensemble run refuses a CheckpointPath), AfterBackward probes.
using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Training;

public static class EnsembleTrainingLoop
{
    /// <param name="seeds">Each member's seed: its step noise is drawn as TrainingLoop draws it for that seed.</param>
    /// <param name="selection">As TrainingLoop's: Shared keeps each member's best mean over its dims, PerDim a best per dim.</param>
    /// <returns>One result per member, as TrainingLoop would report it; the parameters hold each member's best weights.</returns>
    public static IReadOnlyList<TrainingResult> Run(IEnsembleTask task, TrainingOptions options, IReadOnlyList<long> seeds,
        Methods.DimSelection selection = Methods.DimSelection.Shared)
    {
        options.Validate();
        if (options.CheckpointPath is not null)
            throw new ArgumentException($"{options.Label}: an ensemble run does not checkpoint yet; expected no CheckpointPath (train the members alone to checkpoint them)");
        if (options.AfterBackward is not null)
            throw new ArgumentException($"{options.Label}: an ensemble run has no AfterBackward hook; expected none (probe a member trained alone)");
        var count = task.Members;
        if (seeds.Count != count) throw new ArgumentException($"{options.Label}: {seeds.Count} seeds for {count} members; expected one seed per member");
        Runtime.Determinism.ConfigureTorch();
        var clock = Stopwatch.StartNew();
        var groups = task.ParameterGroups;
        var parameters = groups.SelectMany(g => g.Parameters).ToArray();
        if (parameters.Length == 0) throw new ArgumentException($"{options.Label}: the ensemble has no trainable parameters");
        var optimizers = groups.Select(g => TrainingLoop.CreateOptimizer(g, options)).ToArray();
        using var members = new MemberMask(count);
        // The best parameters so far (every member's slice), kept outside every step scope on purpose.
        var best = parameters.Select(p => p.detach().clone()).ToArray();
        var states = Enumerable.Range(0, count).Select(_ => new MemberState()).ToArray();
        var perDimSelection = selection == Methods.DimSelection.PerDim && task.CanValidate;
        // Each member's slice of every parameter (views: they follow the optimizer's in-place updates).
        var slices = perDimSelection ? Enumerable.Range(0, count).Select(k => parameters.Select(p => p.detach()[k]).ToArray()).ToArray() : [];
        var perDim = Enumerable.Range(0, count).Select(_ => new PerDimBests()).ToArray();
        if (task.CanValidate)
            for (var k = 0; k < count; k++)
            {
                if (perDimSelection)
                {
                    var byDim = ScoreByDim(task, k, options);
                    states[k].History.Add(new TrainingEvaluation(0, double.NaN, byDim.Average(x => x.Ndcg), byDim));
                    perDim[k].Record(byDim, 0, slices[k]); // the initial map is a candidate too
                    states[k].BestScore = perDim[k].MeanBest;
                    continue;
                }
                states[k].BestScore = task.Validate(k); // the initial map is a candidate too
                states[k].History.Add(new TrainingEvaluation(0, double.NaN, states[k].BestScore));
            }

        var progress = new Runtime.ProgressBar(options.Label, options.MaxSteps, enabled: options.Progress);
        // Per-member loss sums since the last validation, on the members' device.
        using var lossSum = zeros(count, device: parameters[0].device);
        var lossCount = 0;
        var step = 0;
        for (; step < options.MaxSteps && members.AnyActive; step++)
        {
            var generators = seeds.Select(seed => new Generator(SeedMix.Mix(seed, SeedMix.NoiseStream, step))).ToArray();
            try
            {
                var contexts = generators.Select((g, k) => new TrainingStep(step, options.MaxSteps, step / Math.Max(1, task.StepsPerEpoch(k)), g)).ToArray();
                using var scope = NewDisposeScope();
                foreach (var o in optimizers) o.ZeroGrad();
                var losses = task.Losses(contexts);
                losses.sum().backward();
                foreach (var o in optimizers) o.Step(members);
                task.AfterStep(contexts);
                using (no_grad()) lossSum.AddInPlace(losses.detach());
                lossCount++;
            }
            finally
            {
                foreach (var g in generators) g.Dispose();
            }

            var evaluate = task.CanValidate && ((step + 1) % options.EvaluateEvery == 0 || step + 1 == options.MaxSteps);
            if (!evaluate) { progress.Report(step + 1, $"{Active(members)} of {count} members training", milestone: false); continue; }
            var meanLosses = MeanLosses(lossSum, lossCount, members, step + 1, options.Label);
            lossCount = 0;
            for (var k = 0; k < count; k++)
            {
                if (!members.IsActive(k)) continue;
                var state = states[k];
                if (perDimSelection)
                {
                    var byDim = ScoreByDim(task, k, options);
                    state.History.Add(new TrainingEvaluation(step + 1, meanLosses[k], byDim.Average(x => x.Ndcg), byDim));
                    var bests = perDim[k];
                    var primaryBefore = bests.Best(bests.Primary).Score;
                    if (bests.Record(byDim, step + 1, slices[k]))
                    {
                        // best holds the first dim's snapshot: the weights the loop leaves in place.
                        if (bests.Best(bests.Primary).Score > primaryBefore) CopyMember(best, parameters, k);
                        state.BestScore = bests.MeanBest; state.BestStep = bests.Best(bests.Primary).Step; state.StaleEvaluations = 0;
                    }
                    else state.StaleEvaluations++;
                }
                else
                {
                    var score = task.Validate(k);
                    state.History.Add(new TrainingEvaluation(step + 1, meanLosses[k], score));
                    if (score > state.BestScore)
                    {
                        state.BestScore = score; state.BestStep = step + 1; state.StaleEvaluations = 0;
                        CopyMember(best, parameters, k);
                    }
                    else state.StaleEvaluations++;
                }
                if (state.StaleEvaluations >= options.Patience && step + 1 >= options.MinSteps)
                {
                    state.StoppedEarly = true;
                    state.StepsRun = step + 1;
                    members.Stop(k);
                }
            }
            progress.Report(step + 1, $"{Active(members)} of {count} members training, best val {states.Max(s => s.BestScore):F4}", milestone: true);
        }
        if (!task.CanValidate && lossCount > 0) MeanLosses(lossSum, lossCount, members, step, options.Label); // the finite check
        for (var k = 0; k < count; k++)
            if (members.IsActive(k)) states[k].StepsRun = step;

        if (task.CanValidate) TrainingLoop.CopyInto(parameters, best); // every member's best-validation weights
        foreach (var b in best) b.Dispose();
        foreach (var o in optimizers) o.Dispose();
        progress.Finish($"done: {count} members, {step} steps, best {task.ValidationMeasure} {states.Max(s => s.BestScore):F4}");
        var seconds = clock.Elapsed.TotalSeconds;
        var results = states.Select((s, k) => new TrainingResult(s.BestScore, s.BestStep, s.StepsRun, s.StoppedEarly, Resumed: false, s.History, seconds,
            perDimSelection ? perDim[k].Release() : null)).ToArray();
        foreach (var p in perDim) p.Dispose();
        foreach (var t in slices.SelectMany(x => x)) t.Dispose();
        return results;
    }

    private static IReadOnlyList<(int Dim, double Ndcg)> ScoreByDim(IEnsembleTask task, int member, TrainingOptions options) =>
        task.ValidateByDim(member) ?? throw new InvalidOperationException(
            $"{options.Label}: per-dim selection asks for a validation score per served dim, but this ensemble has one score per member only (IEnsembleTask.ValidateByDim)");

    private sealed class MemberState
    {
        public readonly List<TrainingEvaluation> History = [];
        public double BestScore = double.NegativeInfinity;
        public int BestStep;
        public int StaleEvaluations;
        public int StepsRun;
        public bool StoppedEarly;
    }

    private static int Active(MemberMask members) => Enumerable.Range(0, members.Count).Count(members.IsActive);

    /// <summary>Each member's mean loss since the last validation (the one read back to the host), reset to zero;
    /// a training member whose loss is not finite ends the run, as TrainingLoop does.</summary>
    private static double[] MeanLosses(Tensor lossSum, int steps, MemberMask members, int step, string label)
    {
        double[] means;
        using (var host = lossSum.cpu()) means = host.data<float>().ToArray().Select(s => (double)s / Math.Max(1, steps)).ToArray();
        lossSum.zero_();
        for (var k = 0; k < means.Length; k++)
            if (members.IsActive(k) && !double.IsFinite(means[k]))
                throw new Runtime.TrainingDivergedException(
                    $"{label}: member {k}'s training loss became {means[k]} by step {step}; expected a finite loss (check the inputs for extreme values, or lower the learning rate)");
        return means;
    }

    /// <summary>targets[i][member] = sources[i][member] for every parameter.</summary>
    private static void CopyMember(IReadOnlyList<Tensor> targets, IReadOnlyList<Tensor> sources, int member)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (var i = 0; i < targets.Count; i++) targets[i][member].copy_(sources[i][member]);
    }
}
