using Smec.Core.Data.Manifests;

namespace Smec.Core.Encoders;

/// <summary>Builds the encoder a manifest declares.</summary>
public static class EncoderFactory
{
    public static IEncoder Create(EncoderManifest manifest) => manifest.Kind switch
    {
        "onnx-bert" => new BertOnnxEncoder(manifest),
        "onnx-resnet18" => new ResNet18Encoder(manifest),
        "precomputed" => new PrecomputedEncoder(manifest),
        _ => throw new ArgumentException($"{manifest.ManifestFile}: unknown encoder kind '{manifest.Kind}'"),
    };

    public static IEncoder Create(string encoderId, ManifestCatalog? catalog = null) =>
        Create((catalog ?? ManifestCatalog.Default).Encoder(encoderId));
}
