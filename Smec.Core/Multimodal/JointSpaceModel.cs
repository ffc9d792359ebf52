using TorchSharp;
using TorchSharp.Modules;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Multimodal;

/// <summary>
/// Two projections into one shared space, one per modality, and a learned logit scale (CLIP-style).
/// Inputs are L2-normalised first (ResNet18 pooling outputs are non-negative and of varying norm;
/// MiniLM's are already unit length), outputs are L2-normalised so the space is scored by cosine.
/// </summary>
public sealed class JointSpaceModel : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> _image;
    private readonly nn.Module<Tensor, Tensor> _text;
    /// <summary>log(1 / temperature), learned.</summary>
    public Parameter LogitScale { get; }

    public int ImageDim { get; }
    public int TextDim { get; }
    public int Dim { get; }

    public JointSpaceModel(int imageDim, int textDim, JointSpaceOptions options) : base("joint-space")
    {
        ImageDim = imageDim;
        TextDim = textDim;
        Dim = options.Dim;
        _image = Projection(imageDim, options);
        _text = Projection(textDim, options);
        LogitScale = new Parameter(tensor((float)Math.Log(1.0 / options.InitialTemperature)));
        RegisterComponents();
    }

    private static nn.Module<Tensor, Tensor> Projection(int input, JointSpaceOptions options) =>
        options.HiddenDim == 0
            ? nn.Linear(input, options.Dim)
            : nn.Sequential(nn.Linear(input, options.HiddenDim), nn.GELU(), nn.Linear(options.HiddenDim, options.Dim));

    /// <summary>Image features [n, imageDim] -> unit vectors [n, Dim].</summary>
    public Tensor EmbedImages(Tensor features) =>
        nn.functional.normalize(_image.forward(nn.functional.normalize(features, dim: 1)), dim: 1);

    /// <summary>Caption features [n, textDim] -> unit vectors [n, Dim].</summary>
    public Tensor EmbedCaptions(Tensor features) =>
        nn.functional.normalize(_text.forward(nn.functional.normalize(features, dim: 1)), dim: 1);

    /// <summary>
    /// Symmetric InfoNCE of a batch of matched pairs (row i of each is one image and one of its
    /// captions): cross-entropy of image->caption and caption->image logits against the diagonal, averaged.
    /// </summary>
    public Tensor Loss(Tensor imageFeatures, Tensor captionFeatures)
    {
        var scale = LogitScale.ClampMax(Math.Log(100.0)).exp();
        var logits = EmbedImages(imageFeatures).matmul(EmbedCaptions(captionFeatures).t()).mul(scale);
        var targets = ScalarSafe.Arange(logits.shape[0], logits.device);
        return nn.functional.cross_entropy(logits, targets).Add(nn.functional.cross_entropy(logits.t(), targets)).DividedBy(2);
    }
}
