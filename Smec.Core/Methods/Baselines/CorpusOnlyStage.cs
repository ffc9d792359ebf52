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
public sealed record CorpusOnlyResult(double BestHeldOutLoss, int BestStep, int StepsRun, bool StoppedEarly, int HeldOutDocs,
    IReadOnlyList<(int Step, double HeldOutLoss)> History, double Seconds);

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

        // Held out: a seeded share of the corpus, at most UnsupervisedHeldOutDocs, leaving most docs to train.
        var order = Enumerable.Range(0, n).ToArray();
        SeedMix.Random(seed, HeldOutStream, 0).Shuffle(order);
        var heldOutCount = options.UnsupervisedStop == UnsupervisedStop.HeldOutLoss ? Math.Min(options.UnsupervisedHeldOutDocs, n / 5) : 0;
        var heldOut = order[..heldOutCount].Order().ToArray();
        var trainRows = order[heldOutCount..].Order().ToArray();

        var parameters = adaptor.parameters().ToArray();
        using var optimizer = new AdamOptimizer(parameters, options.LearningRate, options.WeightDecay,
            decoupled: options.Optimizer == OptimizerKind.AdamW);
        var best = parameters.Select(p => p.detach().clone()).ToArray();
        var history = new List<(int, double)>();
        var bestLoss = double.PositiveInfinity;
        var bestStep = 0;
        var stale = 0;
        var stoppedEarly = false;
        var patience = Math.Max(1, options.PatienceSteps / options.EvaluateEvery);
        // The untrained adaptor (the identity on its input) is recorded but is no candidate: the
        // stage trains, and the stop only decides for how long.
        if (heldOutCount > 0) history.Add((0, HeldOutLoss(adaptor, mapped, neighbours, heldOut, dims, options)));

        var progress = new Runtime.ProgressBar($"{options.Name} (unsupervised, corpus only)", maxSteps, enabled: options.Progress);
        var step = 0;
        for (; step < maxSteps; step++)
        {
            double value;
            using (var scope = NewDisposeScope())
            {
                adaptor.train();
                var random = SeedMix.Random(seed, AnchorStream, step);
                var rows = Enumerable.Range(0, Math.Min(options.BatchSize, trainRows.Length))
                    .Select(_ => (long)trainRows[random.Next(trainRows.Length)]).ToArray();
                var (anchors, neighbourEmbeddings) = Gather(mapped, neighbours, rows);
                optimizer.ZeroGrad();
                var loss = MatryoshkaAdaptorLoss.UnsupervisedMapped(adaptor, anchors, neighbourEmbeddings, dims, options);
                loss.backward();
                optimizer.Step();
                value = loss.item<float>();
            }
            if (!double.IsFinite(value)) throw new InvalidOperationException($"{options.Name}: unsupervised loss became {value} at step {step}");
            var evaluate = heldOutCount > 0 && ((step + 1) % options.EvaluateEvery == 0 || step + 1 == maxSteps);
            double? heldOutLoss = null;
            if (evaluate)
            {
                var score = HeldOutLoss(adaptor, mapped, neighbours, heldOut, dims, options);
                heldOutLoss = score;
                history.Add((step + 1, score));
                if (score < bestLoss)
                {
                    bestLoss = score; bestStep = step + 1; stale = 0;
                    using var _ = no_grad();
                    for (var i = 0; i < best.Length; i++) best[i].copy_(parameters[i]);
                }
                else if (++stale >= patience) { stoppedEarly = true; step++; break; }
            }
            progress.Report(step + 1, $"loss {value:F4}" + (heldOutLoss is { } h ? $" held-out {h:F4}" : ""), milestone: evaluate);
        }
        if (heldOutCount > 0)
            using (no_grad())
                for (var i = 0; i < best.Length; i++) parameters[i].copy_(best[i]);
        else bestStep = step;
        foreach (var b in best) b.Dispose();
        progress.Finish($"done: {step} steps" + (heldOutCount > 0 ? $", best held-out loss {bestLoss:F5} at step {bestStep}{(stoppedEarly ? " (early stop)" : "")}" : ""));
        return new CorpusOnlyResult(bestLoss, bestStep, step, stoppedEarly, heldOutCount, history, clock.Elapsed.TotalSeconds);
    }

    private static (Tensor Anchors, Tensor Neighbours) Gather(MappedEmbeddings corpus, Tensor neighbours, long[] rows)
    {
        var index = tensor(rows);
        var anchors = corpus.Select(index);
        var neighbourRows = neighbours.index_select(0, index);
        var neighbourEmbeddings = corpus.Select(neighbourRows.flatten()).reshape(rows.Length, neighbourRows.shape[1], anchors.shape[1]);
        return (anchors, neighbourEmbeddings);
    }

    private static double HeldOutLoss(ResidualAdaptor adaptor, MappedEmbeddings corpus, Tensor neighbours, int[] heldOut,
        IReadOnlyList<int> dims, MatryoshkaAdaptorOptions options)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        adaptor.eval();
        var (anchors, neighbourEmbeddings) = Gather(corpus, neighbours, heldOut.Select(r => (long)r).ToArray());
        return MatryoshkaAdaptorLoss.UnsupervisedMapped(adaptor, anchors, neighbourEmbeddings, dims, options).item<float>();
    }
}
