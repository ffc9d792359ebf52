using System.Diagnostics;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using Smec.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Multimodal;

/// <summary>One validation of the joint space during training.</summary>
public sealed record JointSpaceEvaluation(int Step, double MeanTrainLoss, double ValidationMeanRecall);

/// <summary>A trained joint space and how its training went.</summary>
public sealed record JointSpaceTraining(
    JointSpaceModel Model, JointSpaceOptions Options, double BestValidationMeanRecall, int BestStep, int StepsRun,
    bool StoppedEarly, IReadOnlyList<JointSpaceEvaluation> History, double Seconds);

/// <summary>The joint space with its own figures on held-out images, both directions.</summary>
public sealed record JointSpaceReport(JointSpaceTraining Training, CrossModalMetrics HeldOutTextToImage, CrossModalMetrics HeldOutImageToText)
{
    /// <summary>The acceptance figure: text -> image R@10 on the held-out images.</summary>
    public double HeldOutTextToImageRecallAt10 => HeldOutTextToImage.RecallAt10;
}

/// <summary>
/// Learns the joint image-caption space that stands in for the paper's 768-d multimodal encoder:
/// frozen ResNet18 image features and MiniLM caption features, each projected into a shared
/// space and trained with symmetric InfoNCE on matched (image, caption) pairs of the training
/// images only. Early stopping and model selection use the validation images; the held-out
/// images are touched only by <see cref="TrainAndEvaluate"/>, after training.
/// Deterministic for a seed on CPU (initialisation from the seeded global generator, batches
/// from <see cref="SeedMix"/>).
/// </summary>
public static class JointSpace
{
    private const long CaptionPickStream = 44;
    private const long ImageOrderStream = 45;

    public static JointSpaceReport TrainAndEvaluate(CaptionedFeatures features, ImageSplit split, JointSpaceOptions options, long seed)
    {
        var training = Train(features.Subset(split.JointTrain), features.Subset(split.Validation), options, seed);
        var test = Embed(training.Model, features.Subset(split.Test));
        return new JointSpaceReport(training,
            CrossModalEvaluation.Evaluate(test, CrossModalDirection.TextToImage, test.Captions, test.Images),
            CrossModalEvaluation.Evaluate(test, CrossModalDirection.ImageToText, test.Images, test.Captions));
    }

    public static JointSpaceTraining Train(CaptionedFeatures train, CaptionedFeatures validation, JointSpaceOptions options, long seed)
    {
        options.Validate();
        if (validation.Images.Rows == 0) throw new ArgumentException("the joint space needs validation images for early stopping");
        Determinism.Seed(seed); // the projections' initialisation comes from the global generator
        var clock = Stopwatch.StartNew();
        var model = new JointSpaceModel(train.Images.Dim, train.Captions.Dim, options);
        var parameters = model.parameters().ToArray();
        using var optimizer = optim.AdamW(parameters, lr: options.LearningRate, weight_decay: options.WeightDecay);

        // Long-lived inputs and the best weights: outside every step scope on purpose.
        using var trainImages = tensor(train.Images.Values, [train.Images.Rows, train.Images.Dim]);
        using var trainCaptions = tensor(train.Captions.Values, [train.Captions.Rows, train.Captions.Dim]);
        using var validationImages = tensor(validation.Images.Values, [validation.Images.Rows, validation.Images.Dim]);
        using var validationCaptions = tensor(validation.Captions.Values, [validation.Captions.Rows, validation.Captions.Dim]);
        var best = parameters.Select(p => p.detach().clone()).ToArray();
        var textToImage = CrossModalEvaluation.Evaluator(validation, CrossModalDirection.TextToImage);
        var imageToText = CrossModalEvaluation.Evaluator(validation, CrossModalDirection.ImageToText);
        double Validate()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            model.eval();
            var images = model.EmbedImages(validationImages);
            var captions = model.EmbedCaptions(validationCaptions);
            var score = (CrossModalEvaluation.Evaluate(textToImage, captions, images).MeanRecall
                         + CrossModalEvaluation.Evaluate(imageToText, images, captions).MeanRecall) / 2;
            model.train();
            return score;
        }

        var captionsOfImage = CaptionRows(train);
        var batchSize = Math.Min(options.BatchSize, train.Images.Rows);
        var stepsPerEpoch = Math.Max(1, train.Images.Rows / batchSize);
        var history = new List<JointSpaceEvaluation>();
        var bestScore = Validate();
        var bestStep = 0;
        history.Add(new JointSpaceEvaluation(0, double.NaN, bestScore));
        var progress = new ProgressBar("joint space", options.MaxSteps, enabled: options.Progress);
        int[] order = [];
        double lossSum = 0; var lossCount = 0; var stale = 0; var stoppedEarly = false;
        var step = 0;
        model.train();
        for (; step < options.MaxSteps; step++)
        {
            if (step % stepsPerEpoch == 0)
            {
                order = Enumerable.Range(0, train.Images.Rows).ToArray();
                SeedMix.Random(seed, ImageOrderStream, step / stepsPerEpoch).Shuffle(order);
            }
            using (var scope = NewDisposeScope())
            {
                // B distinct images, each with one of its captions drawn at random: no duplicate
                // image in a batch, so no InfoNCE negative is secretly a positive.
                var imageRows = order.AsSpan(step % stepsPerEpoch * batchSize, batchSize).ToArray();
                var pick = SeedMix.Random(seed, CaptionPickStream, step);
                var captionRows = imageRows.Select(r => captionsOfImage[r][pick.Next(captionsOfImage[r].Length)]).ToArray();
                optimizer.zero_grad();
                var loss = model.Loss(trainImages.index_select(0, Rows(imageRows)), trainCaptions.index_select(0, Rows(captionRows)));
                loss.backward();
                optimizer.step();
                var value = loss.item<float>();
                if (!float.IsFinite(value)) throw new InvalidOperationException($"joint space: loss became {value} at step {step}");
                lossSum += value; lossCount++;
            }
            var evaluate = (step + 1) % options.EvaluateEvery == 0 || step + 1 == options.MaxSteps;
            if (evaluate)
            {
                var score = Validate();
                history.Add(new JointSpaceEvaluation(step + 1, lossSum / Math.Max(1, lossCount), score));
                lossSum = 0; lossCount = 0;
                if (score > bestScore)
                {
                    bestScore = score; bestStep = step + 1; stale = 0;
                    CopyInto(best, parameters);
                }
                else if (++stale >= options.Patience) { stoppedEarly = true; step++; break; }
            }
            progress.Report(step + 1, $"loss {(lossCount > 0 ? lossSum / lossCount : history[^1].MeanTrainLoss):F4} best val {bestScore:F4}", milestone: evaluate);
        }
        CopyInto(parameters, best); // leave the best-validation weights in place
        foreach (var b in best) b.Dispose();
        model.eval();
        progress.Finish($"done: {step} steps, best val mean recall {bestScore:F4} at step {bestStep}{(stoppedEarly ? " (early stop)" : "")}");
        return new JointSpaceTraining(model, options, bestScore, bestStep, step, stoppedEarly, history, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The set's images and captions projected into the joint space (same ids and order).</summary>
    public static CaptionedFeatures Embed(JointSpaceModel model, CaptionedFeatures features)
    {
        if (features.Images.Dim != model.ImageDim || features.Captions.Dim != model.TextDim)
            throw new ArgumentException($"the joint space takes {model.ImageDim}-d images and {model.TextDim}-d captions, got {features.Images.Dim}-d and {features.Captions.Dim}-d");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        EmbeddingMatrix Project(EmbeddingMatrix input, Func<Tensor, Tensor> embed)
        {
            if (input.Rows == 0) return new EmbeddingMatrix(input.Ids, [], model.Dim);
            var output = embed(tensor(input.Values, [input.Rows, input.Dim])).contiguous();
            return new EmbeddingMatrix(input.Ids, output.data<float>().ToArray(), model.Dim);
        }
        return features.WithEmbeddings(Project(features.Images, model.EmbedImages), Project(features.Captions, model.EmbedCaptions));
    }

    /// <summary>For each image row, the rows of its captions.</summary>
    private static int[][] CaptionRows(CaptionedFeatures set)
    {
        var imageRow = set.Images.IndexById();
        var lists = Enumerable.Range(0, set.Images.Rows).Select(_ => new List<int>()).ToArray();
        for (var c = 0; c < set.CaptionImageIds.Count; c++) lists[imageRow[set.CaptionImageIds[c]]].Add(c);
        var empty = Array.FindIndex(lists, l => l.Count == 0);
        if (empty >= 0) throw new ArgumentException($"training image '{set.Images.Ids[empty]}' has no caption");
        return lists.Select(l => l.ToArray()).ToArray();
    }

    private static Tensor Rows(int[] rows) => tensor(rows.Select(r => (long)r).ToArray());

    private static void CopyInto(IReadOnlyList<Tensor> targets, IReadOnlyList<Tensor> sources)
    {
        using var _ = no_grad();
        for (var i = 0; i < targets.Count; i++) targets[i].copy_(sources[i]);
    }
}
