// The shared training loop of SMEC, the baselines and the multimodal joint space.
//
// Usage (C#; F# reads the same):
//
//   using var set = new TrainingSet(data, options.HardNegativePool);   // tensors, pairs, mined negatives
//   ITrainingObjective objective = new MyObjective(...);               // parameters + Loss(batch, step) + Compress
//   TrainingResult result = TrainingLoop.Run(set, objective, options with { Label = "my-method" }, data.Seed);
//   // the objective's parameters now hold the best-validation weights (early stopping on nDCG@10)
//
// The loop owns: the optimizer (AdamW default, Adam option, see AdamOptimizer; one per ParameterGroup
// so groups can have their own learning rate), batches of (query, positive, hard negatives) from the train
// qrels with validation queries removed, validation nDCG@10 every EvaluateEvery steps with
// patience counted in validations, a dispose scope around every step (memory stays flat), a
// progress bar on stderr, and an atomic checkpoint (temp + rename) that a restarted run resumes.
// Randomness is a pure function of (seed, step), so a run is bit-reproducible on CPU for a given
// SMEC_THREADS, resumed or not. A model that is not a retrieval objective (the joint space) passes
// an ILoopTask instead: its own batches and validation score, the same optimizer, early stopping,
// best-weight selection, progress and checkpoints.
//
// Per-dim selection (Run(..., DimSelection.PerDim)): the task scores validation per served dim
// (ILoopTask.ValidateByDim); the loop keeps the best snapshot of the parameters at each dim, counts a
// validation as an improvement when any dim improved (patience counts validations where none did),
// and hands every dim's snapshot back in TrainingResult.PerDim. The single-score path is unchanged.
using System.Diagnostics;
using Smec.Core.Storage;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Training;

public static class TrainingLoop
{
    private const string CheckpointMagic = "smec-checkpoint-v6"; // v5: a SHA-256 of the contents ends the file; v6: per-dim bests

    /// <summary>Convenience overload that builds (and disposes) the training set.</summary>
    public static TrainingResult Run(Methods.TrainingData data, ITrainingObjective objective, TrainingOptions options)
    {
        using var set = new TrainingSet(data, options.HardNegativePool);
        return Run(set, objective, options, data.Seed);
    }

    /// <summary>A retrieval objective: pair batches from the train qrels, validation nDCG@10.</summary>
    public static TrainingResult Run(TrainingSet set, ITrainingObjective objective, TrainingOptions options, long seed) =>
        Run(new RetrievalTask(set, objective, options, seed), options, seed);

    /// <summary>A retrieval objective with the given selection (PerDim: a best snapshot per validation dim).</summary>
    public static TrainingResult Run(TrainingSet set, ITrainingObjective objective, TrainingOptions options, long seed, Methods.DimSelection selection) =>
        Run(new RetrievalTask(set, objective, options, seed), options, seed, selection);

    /// <summary>Any task: its own batches and validation score (higher is better).</summary>
    public static TrainingResult Run(ILoopTask task, TrainingOptions options, long seed) => Run(task, options, seed, Methods.DimSelection.Shared);

    /// <summary>Any task, with the given selection (PerDim needs <see cref="ILoopTask.ValidateByDim"/>).</summary>
    public static TrainingResult Run(ILoopTask task, TrainingOptions options, long seed, Methods.DimSelection selection)
    {
        options.Validate();
        var perDimSelection = selection == Methods.DimSelection.PerDim && task.CanValidate;
        Runtime.Determinism.ConfigureTorch();
        var clock = Stopwatch.StartNew();
        var groups = task.ParameterGroups;
        var parameters = groups.SelectMany(g => g.Parameters).ToArray();
        if (parameters.Length == 0) throw new ArgumentException($"{options.Label}: the objective has no trainable parameters");
        var optimizers = groups.Select(g => CreateOptimizer(g, options)).ToArray();
        var fingerprint = Fingerprint(task, options, seed) + (perDimSelection ? ";selection=per-dim" : "");
        // The data a checkpoint was written for is part of what it must match (computed only when checkpointing).
        var dataIdentity = options.CheckpointPath is null ? "" : task.TrainingDataIdentity;

        // The best parameters so far, kept outside every step scope on purpose.
        var best = parameters.Select(p => p.detach().clone()).ToArray();
        var history = new List<TrainingEvaluation>();
        var state = new LoopState();
        using var perDim = new PerDimBests();
        var resumed = options.CheckpointPath is { } path && File.Exists(path)
            && TryResume(path, fingerprint, dataIdentity, parameters, best, perDim, task, optimizers, history, state);
        if (!resumed && task.CanValidate)
        {
            if (perDimSelection)
            {
                var byDim = ScoreByDim(task, options);
                var initial = byDim.Average(x => x.Ndcg);
                history.Add(new TrainingEvaluation(0, double.NaN, initial, byDim));
                foreach (var (dim, _) in byDim) perDim.Add(dim, parameters);
                if (task.InitialIsCandidate) { perDim.Record(byDim, 0, parameters); state.BestScore = perDim.MeanBest; }
            }
            else
            {
                var initial = task.Validate(); // the initial map (e.g. a PCA init) is a candidate too, unless the task says not
                if (task.InitialIsCandidate) state.BestScore = initial;
                history.Add(new TrainingEvaluation(0, double.NaN, initial));
            }
        }

        var progress = new Runtime.ProgressBar(options.Label, options.MaxSteps, enabled: options.Progress);
        var profile = StepProfile.Enabled ? new StepProfile() : null;
        var firstStep = state.NextStep;
        profile?.Restart();
        double lossSum = 0; var lossCount = 0;
        var stoppedEarly = false;
        var step = state.NextStep;
        // A finished run (budget or early stop) only restores its best weights on resume.
        for (; step < options.MaxSteps && !state.Finished; step++)
        {
            using var generator = new Generator(SeedMix.Mix(seed, SeedMix.NoiseStream, step));
            var context = new TrainingStep(step, options.MaxSteps, step / Math.Max(1, task.StepsPerEpoch), generator);
            using (var scope = NewDisposeScope())
            {
                foreach (var o in optimizers) o.ZeroGrad();
                var loss = task.Loss(context);
                profile?.Lap("batch+loss");
                loss.backward();
                options.AfterBackward?.Invoke(context);
                profile?.Lap("backward");
                foreach (var o in optimizers) o.Step();
                profile?.Lap("optimizer");
                task.AfterStep(context);
                profile?.Lap("after-step");
                var value = loss.item<float>();
                if (!float.IsFinite(value))
                    throw new Runtime.TrainingDivergedException(
                        $"{options.Label}: the training loss became {value} at step {step + 1}; expected a finite loss (check the inputs for extreme values, or lower the learning rate)");
                lossSum += value; lossCount++;
            }
            profile?.Lap("item+dispose");

            var evaluate = task.CanValidate && ((step + 1) % options.EvaluateEvery == 0 || step + 1 == options.MaxSteps);
            if (evaluate && perDimSelection)
            {
                var byDim = ScoreByDim(task, options);
                history.Add(new TrainingEvaluation(step + 1, lossSum / Math.Max(1, lossCount), byDim.Average(x => x.Ndcg), byDim));
                lossSum = 0; lossCount = 0;
                var primaryBefore = perDim.Count > 0 ? perDim.Best(perDim.Primary).Score : double.NegativeInfinity;
                if (perDim.Record(byDim, step + 1, parameters))
                {
                    // best holds the primary dim's snapshot: the weights the loop leaves in place.
                    if (perDim.Best(perDim.Primary).Score > primaryBefore) CopyInto(best, parameters);
                    state.BestScore = perDim.MeanBest; state.BestStep = perDim.Best(perDim.Primary).Step; state.StaleEvaluations = 0;
                }
                else state.StaleEvaluations++;
            }
            else if (evaluate)
            {
                var score = task.Validate();
                history.Add(new TrainingEvaluation(step + 1, lossSum / Math.Max(1, lossCount), score));
                lossSum = 0; lossCount = 0;
                if (score > state.BestScore)
                {
                    state.BestScore = score; state.BestStep = step + 1; state.StaleEvaluations = 0;
                    CopyInto(best, parameters);
                }
                else state.StaleEvaluations++;
            }
            if (evaluate)
            {
                state.NextStep = step + 1;
                if (options.CheckpointPath is { } checkpoint)
                    WriteCheckpoint(checkpoint, fingerprint, dataIdentity, parameters, best, perDim, task, optimizers, history, state);
                profile?.Lap("validation+checkpoint");
                if (state.StaleEvaluations >= options.Patience && step + 1 >= options.MinSteps) { stoppedEarly = true; step++; break; }
            }
            var meanLoss = lossCount > 0 ? lossSum / lossCount : history.LastOrDefault()?.MeanTrainLoss ?? 0;
            progress.Report(step + 1, $"loss {meanLoss:F4}" + (evaluate ? $" val {history[^1].ValidationNdcg10:F4}" : "")
                + (task.CanValidate ? $" best val {state.BestScore:F4}" : ""), milestone: evaluate);
            profile?.Lap("progress");
        }

        if (profile is not null) Console.Error.WriteLine($"{options.Label}: {profile.Describe(step - firstStep)}");

        if (task.CanValidate) CopyInto(parameters, best); // leave the best-validation weights in place
        if (options.CheckpointPath is { } finalCheckpoint && !state.Finished)
        {
            state.Finished = true;
            state.NextStep = step;
            WriteCheckpoint(finalCheckpoint, fingerprint, dataIdentity, parameters, best, perDim, task, optimizers, history, state);
        }
        foreach (var b in best) b.Dispose();
        foreach (var o in optimizers) o.Dispose();
        progress.Finish($"done: {step} steps, best {task.ValidationMeasure} {state.BestScore:F4} at step {state.BestStep}{(stoppedEarly ? " (early stop)" : "")}");
        return new TrainingResult(state.BestScore, state.BestStep, step, stoppedEarly, resumed, history, clock.Elapsed.TotalSeconds,
            perDimSelection ? perDim.Release() : null);
    }

    private static IReadOnlyList<(int Dim, double Ndcg)> ScoreByDim(ILoopTask task, TrainingOptions options) =>
        task.ValidateByDim() ?? throw new InvalidOperationException(
            $"{options.Label}: per-dim selection asks for a validation score per served dim, but this task has one score only (ILoopTask.ValidateByDim)");

    private sealed class LoopState
    {
        public int NextStep;
        public double BestScore = double.NegativeInfinity;
        public int BestStep;
        public int StaleEvaluations;
        /// <summary>The run ended (budget or early stop): a resume only restores the best weights.</summary>
        public bool Finished;
    }

    internal static AdamOptimizer CreateOptimizer(ParameterGroup group, TrainingOptions options) =>
        new(group.Parameters, options.LearningRate * group.LearningRateScale, group.WeightDecay ?? options.WeightDecay,
            decoupled: options.Optimizer switch
            {
                OptimizerKind.AdamW => true,
                OptimizerKind.Adam => false,
                _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "unknown optimizer"),
            });

    internal static void CopyInto(IReadOnlyList<Tensor> targets, IReadOnlyList<Tensor> sources)
    {
        using var _ = no_grad();
        for (var i = 0; i < targets.Count; i++) targets[i].copy_(sources[i]);
    }

    /// <summary>The keys whose values differ between two fingerprints (key=value;... lists).</summary>
    private static string Differences(string a, string b)
    {
        static Dictionary<string, string> Parse(string f) => f.Split(';').Select(p => p.Split('=', 2))
            .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First().Length > 1 ? g.First()[1] : "");
        var (x, y) = (Parse(a), Parse(b));
        var keys = x.Keys.Union(y.Keys).Where(k => x.GetValueOrDefault(k) != y.GetValueOrDefault(k)).Order().ToArray();
        return keys.Length == 0 ? "none" : string.Join(", ", keys.Select(k => $"{k} {x.GetValueOrDefault(k, "-")} vs {y.GetValueOrDefault(k, "-")}"));
    }

    private static string Fingerprint(ILoopTask task, TrainingOptions options, long seed) =>
        string.Join(";", options.Describe().Select(kv => $"{kv.Key}={kv.Value}")) + $";seed={seed};objective={task.Fingerprint}";

    private static void WriteCheckpoint(string path, string fingerprint, string dataIdentity, Parameter[] parameters, Tensor[] best,
        PerDimBests perDim, ILoopTask task, AdamOptimizer[] optimizers, List<TrainingEvaluation> history, LoopState state)
    {
        ChecksummedFile.Write(path, w =>
        {
            w.Write(CheckpointMagic);
            w.Write(dataIdentity);
            w.Write(fingerprint);
            w.Write(state.NextStep); w.Write(state.BestScore); w.Write(state.BestStep); w.Write(state.StaleEvaluations); w.Write(state.Finished);
            w.Write(history.Count);
            foreach (var h in history)
            {
                w.Write(h.Step); w.Write(h.MeanTrainLoss); w.Write(h.ValidationNdcg10);
                w.Write(h.ByDim?.Count ?? -1);
                foreach (var (dim, ndcg) in h.ByDim ?? []) { w.Write(dim); w.Write(ndcg); }
            }
            for (var i = 0; i < parameters.Length; i++) TensorIO.Write(w, $"param{i}", parameters[i]);
            for (var i = 0; i < best.Length; i++) TensorIO.Write(w, $"best{i}", best[i]);
            perDim.Write(w);
            foreach (var (name, value) in task.ExtraState) TensorIO.Write(w, name, value);
            for (var i = 0; i < optimizers.Length; i++) optimizers[i].Save(w, $"opt{i}");
        });
    }

    private static bool TryResume(string path, string fingerprint, string dataIdentity, Parameter[] parameters, Tensor[] best,
        PerDimBests perDim, ILoopTask task, AdamOptimizer[] optimizers, List<TrainingEvaluation> history, LoopState state)
    {
        using var stream = ChecksummedFile.OpenVerified(path, "expected the checkpoint as training wrote it: delete it to start afresh, or give another --checkpoint path");
        using var r = new BinaryReader(stream);
        string magic;
        try { magic = r.ReadString(); }
        catch (EndOfStreamException) { magic = ""; }
        if (magic != CheckpointMagic)
            throw new InvalidDataException($"{path}: not a training checkpoint of this version; expected {CheckpointMagic} (delete it to start afresh)");
        var storedData = r.ReadString();
        var stored = r.ReadString();
        // Another run's checkpoint is refused, never resumed and never silently overwritten.
        if (storedData != dataIdentity || stored != fingerprint)
        {
            var settings = stored == fingerprint ? "the same settings" : $"settings {TrainingDataHash.Short(TrainingDataHash.OfText(stored))} vs this run's {TrainingDataHash.Short(TrainingDataHash.OfText(fingerprint))} (differing: {Differences(stored, fingerprint)})";
            throw new Runtime.CheckpointMismatchException(
                $"{path}: checkpoint of data {TrainingDataHash.Short(storedData)}, this run's data is {TrainingDataHash.Short(dataIdentity)}; {settings}; " +
                "expected a checkpoint of this data and these settings (give another --checkpoint path, or delete this one to start afresh)");
        }
        state.NextStep = r.ReadInt32(); state.BestScore = r.ReadDouble(); state.BestStep = r.ReadInt32(); state.StaleEvaluations = r.ReadInt32(); state.Finished = r.ReadBoolean();
        var count = r.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            var (step, loss, ndcg) = (r.ReadInt32(), r.ReadDouble(), r.ReadDouble());
            var dims = r.ReadInt32();
            var byDim = dims < 0 ? null : Enumerable.Range(0, dims).Select(_ => (r.ReadInt32(), r.ReadDouble())).ToArray();
            history.Add(new TrainingEvaluation(step, loss, ndcg, byDim));
        }
        for (var i = 0; i < parameters.Length; i++) TensorIO.ReadInto(r, $"param{i}", parameters[i], path);
        for (var i = 0; i < best.Length; i++) TensorIO.ReadInto(r, $"best{i}", best[i], path);
        perDim.Read(r, parameters, path);
        foreach (var (name, value) in task.ExtraState) TensorIO.ReadInto(r, name, value, path);
        for (var i = 0; i < optimizers.Length; i++) optimizers[i].Load(r, $"opt{i}", path);
        Console.Error.WriteLine($"resumed {path} at step {state.NextStep}");
        return true;
    }
}
