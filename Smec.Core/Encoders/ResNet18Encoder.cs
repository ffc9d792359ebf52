using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Smec.Core.Data.Images;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Encoders;

/// <summary>
/// ImageNet ResNet18 features from the two ONNX graphs of Microsoft.ML.DnnImageFeaturizer.ResNet18:
/// ResNetPreprocess (planar RGB 0..255 in; swaps to BGR and subtracts the mean image) and ResNet18
/// (global-pooled 512-d out, <c>Pooling395_Output_0</c>). Both graphs have a fixed batch of 1, so
/// images go through one at a time. The output is L2-normalised when the settings say so.
/// </summary>
public sealed class ResNet18Encoder : IImageEncoder
{
    private readonly InferenceSession _preprocess;
    private readonly InferenceSession _model;
    private readonly string _preprocessInput, _preprocessOutput, _modelInput, _modelOutput;
    private readonly int _size;
    private readonly bool _normalize;

    public string Id { get; }
    public int Dim { get; }
    public string Settings { get; }

    public ResNet18Encoder(EncoderManifest manifest)
    {
        if (manifest.Kind != "onnx-resnet18") throw new ArgumentException($"encoder '{manifest.Id}' is {manifest.Kind}, not onnx-resnet18");
        Id = manifest.Id;
        Dim = manifest.Dim;
        Settings = manifest.Settings.Canonical();
        _size = manifest.Settings.ImageSize!.Value;
        _normalize = manifest.Settings.Normalize;
        _preprocess = OnnxSessions.FromFile(ModelPath(manifest.Source.PreprocessFile!));
        _model = OnnxSessions.FromFile(ModelPath(manifest.Source.ModelFile!));
        (_preprocessInput, _preprocessOutput) = CheckShapes(_preprocess, manifest.Source.PreprocessFile!, [1, 3, _size, _size], [1, 3, _size, _size]);
        (_modelInput, _modelOutput) = CheckShapes(_model, manifest.Source.ModelFile!, [1, 3, _size, _size], [1, Dim, 1, 1]);
    }

    /// <summary>
    /// A file the build copied from the package's tools folder: next to the program, or next to
    /// Smec.Core.dll (scripts and notebooks that load the assembly from a build folder).
    /// </summary>
    public static string ModelPath(string relative)
    {
        var beside = Path.Combine(AppContext.BaseDirectory, relative);
        if (File.Exists(beside)) return beside;
        var library = Path.GetDirectoryName(typeof(ResNet18Encoder).Assembly.Location);
        return string.IsNullOrEmpty(library) ? beside : Path.Combine(library, relative);
    }

    /// <summary>The graphs' declared shapes must be what this encoder feeds and reads.</summary>
    private static (string Input, string Output) CheckShapes(InferenceSession session, string file, int[] input, int[] output)
    {
        var (inName, inMeta) = session.InputMetadata.Single();
        var (outName, outMeta) = session.OutputMetadata.Single();
        if (!inMeta.Dimensions.SequenceEqual(input))
            throw new InvalidDataException($"{file}: input '{inName}' has shape [{string.Join(",", inMeta.Dimensions)}], expected [{string.Join(",", input)}]");
        if (!outMeta.Dimensions.SequenceEqual(output))
            throw new InvalidDataException($"{file}: output '{outName}' has shape [{string.Join(",", outMeta.Dimensions)}], expected [{string.Join(",", output)}]");
        return (inName, outName);
    }

    public float[] Encode(IEnumerable<RgbImage> images, int count, IProgress<int>? progress = null)
    {
        var result = new float[count * Dim];
        var planes = new DenseTensor<float>([1, 3, _size, _size]);
        var done = 0;
        foreach (var image in images)
        {
            if (done == count) throw new ArgumentException($"more than the {count} images announced");
            planes.Buffer.Span.Clear();
            ImageResize.BilinearPlanar(image, _size, planes.Buffer.Span);
            using var prepared = _preprocess.Run([NamedOnnxValue.CreateFromTensor(_preprocessInput, planes)]);
            var preparedTensor = prepared[0].AsTensor<float>();
            using var features = _model.Run([NamedOnnxValue.CreateFromTensor(_modelInput, preparedTensor)], [_modelOutput]);
            var row = result.AsSpan(done * Dim, Dim);
            var values = features[0].AsEnumerable<float>().GetEnumerator();
            for (var d = 0; d < Dim && values.MoveNext(); d++) row[d] = values.Current;
            if (_normalize) Vectors.NormalizeL2(row);
            done++;
            progress?.Report(done);
        }
        if (done != count) throw new ArgumentException($"{done} images given, {count} announced");
        return result;
    }

    public void Dispose()
    {
        _preprocess.Dispose();
        _model.Dispose();
    }
}
