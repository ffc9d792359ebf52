using Smec.Core.Methods;

namespace Smec.Core.Multimodal;

/// <summary>
/// The <see cref="TrainingData"/> a compressor learns from in one direction of the joint space:
/// queries are the training and validation items of the query modality, the corpus is every
/// training and validation item of the other modality (so validation queries can find their
/// matches), train judgements come from the training images only and validation judgements from
/// the validation images. Held-out images are never part of it.
/// </summary>
public static class CrossModalTraining
{
    public static TrainingData Build(CaptionedFeatures train, CaptionedFeatures validation, CrossModalDirection direction, long seed)
    {
        var both = CaptionedFeatures.Concat(train, validation);
        return direction == CrossModalDirection.TextToImage
            ? new TrainingData(both.Images, both.Captions, train.TextToImageQrels(), validation.TextToImageQrels(), seed)
            : new TrainingData(both.Captions, both.Images, train.ImageToTextQrels(), validation.ImageToTextQrels(), seed);
    }
}
