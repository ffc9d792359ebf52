using System.Diagnostics;
using Smec.Core.Storage;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>How Matryoshka-Adaptor's unsupervised stage stops, without reading any label.
/// HeldOutLoss: early stopping on the unsupervised loss of held-out corpus documents (lower is better);
/// FixedSteps: the whole step budget, the last weights kept.</summary>
public enum UnsupervisedStop { HeldOutLoss, FixedSteps }

/// <summary>What the corpus-only stage did.</summary>
/// <param name="TrainLosses">The mean training loss since the previous validation, at each validation (NaN at step 0).</param>
public sealed record CorpusOnlyResult(double BestHeldOutLoss, int BestStep, int StepsRun, bool StoppedEarly, int HeldOutDocs,
    IReadOnlyList<(int Step, double HeldOutLoss)> History, double Seconds, IReadOnlyList<(int Step, double Loss)> TrainLosses);

/// <summary>
/// Matryoshka-Adaptor's unsupervised stage as its paper describes it: trained on corpus embeddings
/// alone (L_topk + alpha L_pair + beta L_rec over every prefix), stopped without labels. It takes the
/// corpus matrix and nothing else, so no query or judgement can reach it. Each step's anchors are
/// random training docs (a pure function of (seed, step)); a seeded set of held-out docs is never an
/// anchor and scores the stop criterion. Neighbours come from the whole corpus under the frozen encoder.
/// </summary>
internal static class CorpusOnlyStage
{
    private const long HeldOutStream = 11, AnchorStream = 12;

    public static CorpusOnlyResult Run(ResidualAdaptor adaptor, EmbeddingMatrix corpusMatrix, IReadOnlyList<int> dims,
        MatryoshkaAdaptorOptions options, int maxSteps, long seed)
    {
        var clock = Stopwatch.StartNew();
        var n = corpusMatrix.Rows;
        if (n < 2 * (options.TopK + 1)) throw new ArgumentException($"{options.Name}: the corpus has {n} docs, too few for top-{options.TopK} neighbours");
        using var corpus = tensor(corpusMatrix.Values, [n, corpusMatrix.Dim]);
        using var neighbours = CorpusNeighbours.Find(corpus, options.TopK);
        // Neighbours are found on the frozen embeddings; the losses read the mapped ones, mapped once.
        using var mapped = new MappedEmbeddings(adaptor, corpus);

        var (heldOut, trainRows) = Split(n, options, seed);
        var task = new CorpusOnlyTask(adaptor, mapped, neighbours, heldOut, trainRows, dims, options, seed);
        var result = TrainingLoop.Run(task, LoopOptions(options, maxSteps), seed);
        return Result(result, heldOut.Length, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The held-out docs (a seeded share of the corpus, at most UnsupervisedHeldOutDocs, leaving most docs to
    /// train; none under FixedSteps) and the training docs, each in row order.</summary>
    internal static (int[] HeldOut, int[] TrainRows) Split(int corpusRows, MatryoshkaAdaptorOptions options, long seed)
    {
        var order = Enumerable.Range(0, corpusRows).ToArray();
        SeedMix.Random(seed, HeldOutStream, 0).Shuffle(order);
        var heldOutCount = options.UnsupervisedStop == UnsupervisedStop.HeldOutLoss ? Math.Min(options.UnsupervisedHeldOutDocs, corpusRows / 5) : 0;
        return (order[..heldOutCount].Order().ToArray(), order[heldOutCount..].Order().ToArray());
    }

    /// <summary>The shared loop's options for the stage: its optimizer, early stopping on the held-out loss (no MinSteps),
    /// best-weight copy, finite-loss check and progress. Without held-out docs there is nothing to validate: the last weights stay.</summary>
    internal static TrainingOptions LoopOptions(MatryoshkaAdaptorOptions options, int maxSteps) => new()
    {
        MaxSteps = maxSteps,
        BatchSize = options.BatchSize,
        LearningRate = options.LearningRate,
        WeightDecay = options.WeightDecay,
        Optimizer = options.Optimizer,
        EvaluateEvery = options.EvaluateEvery,
        Patience = Math.Max(1, options.PatienceSteps / options.EvaluateEvery),
        Progress = options.Progress,
        Label = $"{options.Name} (unsupervised, corpus only)",
    };

    /// <summary>What the stage reports from the loop's result (its score is minus the held-out loss).</summary>
    internal static CorpusOnlyResult Result(TrainingResult result, int heldOutCount, double seconds) =>
        new(-result.BestValidationNdcg10, heldOutCount > 0 ? result.BestStep : result.StepsRun, result.StepsRun,
            result.StoppedEarly, heldOutCount, result.History.Select(h => (h.Step, -h.ValidationNdcg10)).ToArray(), seconds,
            result.History.Select(h => (h.Step, h.MeanTrainLoss)).ToArray());

    /// <summary>A step's anchors: random training docs, a pure function of (seed, step).</summary>
    internal static long[] AnchorRows(int[] trainRows, int batchSize, long seed, int step)
    {
        var random = SeedMix.Random(seed, AnchorStream, step);
        return Enumerable.Range(0, Math.Min(batchSize, trainRows.Length)).Select(_ => (long)trainRows[random.Next(trainRows.Length)]).ToArray();
    }

    /// <summary>
    /// The stage as a loop task: each step's anchors are random training docs (a pure function of (seed, step))
    /// with their corpus neighbours; the validation score is minus the unsupervised loss of the held-out docs
    /// (the loop keeps the highest score, i.e. the lowest held-out loss).
    /// </summary>
    private sealed class CorpusOnlyTask(ResidualAdaptor adaptor, MappedEmbeddings mapped, Tensor neighbours, int[] heldOut, int[] trainRows,
        IReadOnlyList<int> dims, MatryoshkaAdaptorOptions options, long seed) : ILoopTask
    {
        public IReadOnlyList<ParameterGroup> ParameterGroups { get; } = [new([.. adaptor.parameters()])];
        public int StepsPerEpoch => Math.Max(1, trainRows.Length / options.BatchSize);

        public Tensor Loss(TrainingStep step)
        {
            adaptor.train();
            var rows = AnchorRows(trainRows, options.BatchSize, seed, step.Step);
            var (anchors, neighbourEmbeddings) = Gather(mapped, neighbours, rows);
            return MatryoshkaAdaptorLoss.UnsupervisedMapped(adaptor, anchors, neighbourEmbeddings, dims, options);
        }

        public bool CanValidate => heldOut.Length > 0;

        // The untrained adaptor (the identity on its input) is recorded but is no candidate: the
        // stage trains, and the stop only decides for how long.
        public bool InitialIsCandidate => false;

        public double Validate()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            adaptor.eval();
            var (anchors, neighbourEmbeddings) = Gather(mapped, neighbours, heldOut.Select(r => (long)r).ToArray());
            return -MatryoshkaAdaptorLoss.UnsupervisedMapped(adaptor, anchors, neighbourEmbeddings, dims, options).item<float>();
        }

        public string ValidationMeasure => "minus held-out unsupervised loss";
        public string Fingerprint => $"matryoshka-adaptor-corpus-only;{string.Join(",", dims)}";
    }

    internal static (Tensor Anchors, Tensor Neighbours) Gather(MappedEmbeddings corpus, Tensor neighbours, long[] rows)
    {
        var index = tensor(rows);
        var anchors = corpus.Select(index);
        var neighbourRows = neighbours.index_select(0, index);
        var neighbourEmbeddings = corpus.Select(neighbourRows.flatten()).reshape(rows.Length, neighbourRows.shape[1], anchors.shape[1]);
        return (anchors, neighbourEmbeddings);
    }
}
