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

    /// <summary>Train on the shared loop (<see cref="TrainingLoop"/>, the project's AdamW), keeping the weights
    /// with the best validation mean recall.</summary>
    public static JointSpaceTraining Train(CaptionedFeatures train, CaptionedFeatures validation, JointSpaceOptions options, long seed)
    {
        options.Validate();
        if (validation.Images.Rows == 0) throw new ArgumentException("the joint space needs validation images for early stopping");
        Determinism.Seed(seed); // the projections' initialisation comes from the global generator
        var model = new JointSpaceModel(train.Images.Dim, train.Captions.Dim, options);
        using var task = new JointSpaceTask(model, train, validation, options, seed);
        var loop = new TrainingOptions
        {
            MaxSteps = options.MaxSteps,
            BatchSize = task.BatchSize,
            LearningRate = options.LearningRate,
            WeightDecay = options.WeightDecay,
            Optimizer = OptimizerKind.AdamW,
            EvaluateEvery = options.EvaluateEvery,
            Patience = options.Patience,
            Progress = options.Progress,
            Label = "joint space",
        };
        var result = TrainingLoop.Run(task, loop, seed);
        model.eval();
        var history = result.History.Select(h => new JointSpaceEvaluation(h.Step, h.MeanTrainLoss, h.ValidationNdcg10)).ToArray();
        return new JointSpaceTraining(model, options, result.BestValidationNdcg10, result.BestStep, result.StepsRun, result.StoppedEarly, history, result.Seconds);
    }

    /// <summary>
    /// The joint space as a loop task: B distinct images per step (a seeded permutation per epoch),
    /// each with one of its captions drawn at random, so no InfoNCE negative is secretly a positive;
    /// validation = mean of R@1, R@5, R@10 over both directions on the validation images.
    /// </summary>
    private sealed class JointSpaceTask : ILoopTask, IDisposable
    {
        private readonly JointSpaceModel _model;
        private readonly long _seed;
        private readonly int[][] _captionsOfImage;
        private readonly Tensor _trainImages, _trainCaptions, _validationImages, _validationCaptions;
        private readonly Retrieval.RetrievalEvaluator _textToImage, _imageToText;
        private readonly int _images;
        private int[] _order = [];
        private int _orderEpoch = -1;

        public JointSpaceTask(JointSpaceModel model, CaptionedFeatures train, CaptionedFeatures validation, JointSpaceOptions options, long seed)
        {
            _model = model;
            _seed = seed;
            _images = train.Images.Rows;
            _captionsOfImage = CaptionRows(train);
            BatchSize = Math.Min(options.BatchSize, train.Images.Rows);
            StepsPerEpoch = Math.Max(1, train.Images.Rows / BatchSize);
            // Long-lived inputs: outside every step scope on purpose.
            _trainImages = tensor(train.Images.Values, [train.Images.Rows, train.Images.Dim]);
            _trainCaptions = tensor(train.Captions.Values, [train.Captions.Rows, train.Captions.Dim]);
            _validationImages = tensor(validation.Images.Values, [validation.Images.Rows, validation.Images.Dim]);
            _validationCaptions = tensor(validation.Captions.Values, [validation.Captions.Rows, validation.Captions.Dim]);
            _textToImage = CrossModalEvaluation.Evaluator(validation, CrossModalDirection.TextToImage);
            _imageToText = CrossModalEvaluation.Evaluator(validation, CrossModalDirection.ImageToText);
            ParameterGroups = [new ParameterGroup(model.parameters().ToArray())];
            Fingerprint = $"joint-space:{train.Images.Dim}+{train.Captions.Dim}->{options.Dim};" +
                          string.Join(";", options.Describe().Select(kv => $"{kv.Key}={kv.Value}"));
        }

        public int BatchSize { get; }
        public int StepsPerEpoch { get; }
        public IReadOnlyList<ParameterGroup> ParameterGroups { get; }
        public string Fingerprint { get; }
        public bool CanValidate => true;
        public string ValidationMeasure => "val mean recall";

        public Tensor Loss(TrainingStep step)
        {
            if (step.Epoch != _orderEpoch)
            {
                _order = Enumerable.Range(0, _images).ToArray();
                SeedMix.Random(_seed, ImageOrderStream, step.Epoch).Shuffle(_order);
                _orderEpoch = step.Epoch;
            }
            _model.train();
            var imageRows = _order.AsSpan(step.Step % StepsPerEpoch * BatchSize, BatchSize).ToArray();
            var pick = SeedMix.Random(_seed, CaptionPickStream, step.Step);
            var captionRows = imageRows.Select(r => _captionsOfImage[r][pick.Next(_captionsOfImage[r].Length)]).ToArray();
            return _model.Loss(_trainImages.index_select(0, Rows(imageRows)), _trainCaptions.index_select(0, Rows(captionRows)));
        }

        public double Validate()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            _model.eval();
            var images = _model.EmbedImages(_validationImages);
            var captions = _model.EmbedCaptions(_validationCaptions);
            return (CrossModalEvaluation.Evaluate(_textToImage, captions, images).MeanRecall
                    + CrossModalEvaluation.Evaluate(_imageToText, images, captions).MeanRecall) / 2;
        }

        public void Dispose()
        {
            _trainImages.Dispose();
            _trainCaptions.Dispose();
            _validationImages.Dispose();
            _validationCaptions.Dispose();
        }
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

}
