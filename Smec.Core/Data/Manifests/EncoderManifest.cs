using System.Globalization;
using System.Text;
using YamlDotNet.Serialization;

namespace Smec.Core.Data.Manifests;

/// <summary>One encoder as declared in data-manifests/encoders/&lt;id&gt;.yaml.</summary>
public sealed class EncoderManifest
{
    public string Id { get; set; } = "";
    public string Title { get; set; } = "";
    /// <summary>onnx-bert, onnx-resnet18, or precomputed (the user supplies the embeddings).</summary>
    public string Kind { get; set; } = "";
    /// <summary>text, image or multimodal.</summary>
    public string Modality { get; set; } = "";
    public int Dim { get; set; }
    public EncoderSource Source { get; set; } = new();
    public EncoderSettings Settings { get; set; } = new();
    public string Licence { get; set; } = "";
    public string Citation { get; set; } = "";

    [YamlIgnore] public string ManifestFile { get; set; } = "";
}

/// <summary>Where the weights come from.</summary>
public sealed class EncoderSource
{
    public string? Package { get; set; }
    public string? Version { get; set; }
    /// <summary>Manifest resource name of the ONNX model inside the package's assembly.</summary>
    public string? Resource { get; set; }
    public string? VocabResource { get; set; }
    /// <summary>A model file relative to the program folder (the build copies package tools there).</summary>
    public string? ModelFile { get; set; }
    public string? PreprocessFile { get; set; }
    public string? Homepage { get; set; }
    public string? Instructions { get; set; }
}

/// <summary>
/// Every setting that changes the numbers an encoder produces. All of them enter the embedding
/// cache key through <see cref="Canonical"/>, so two runs share a cache only when they agree.
/// </summary>
public sealed class EncoderSettings
{
    /// <summary>Text: mean (over the attention mask) or cls.</summary>
    public string? Pooling { get; set; }
    public bool Normalize { get; set; } = true;
    public bool? Lowercase { get; set; }
    /// <summary>Text: the token budget including [CLS] and [SEP].</summary>
    public int? MaxTokens { get; set; }
    public string? QueryPrefix { get; set; }
    public string? DocumentPrefix { get; set; }
    /// <summary>Text: what joins a document's title and text.</summary>
    public string? DocumentJoin { get; set; }
    /// <summary>Image: the square side the image is resized to.</summary>
    public int? ImageSize { get; set; }
    public string? Resize { get; set; }

    /// <summary>A stable one-line form, e.g. <c>document_join=" ";lowercase=true;...</c> (sorted keys, JSON-quoted strings).</summary>
    public string Canonical()
    {
        var pairs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Add(string key, object? value)
        {
            if (value == null) return;
            pairs[key] = value switch
            {
                string s => Quote(s),
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString()!,
            };
        }
        Add("pooling", Pooling);
        Add("normalize", Normalize);
        Add("lowercase", Lowercase);
        Add("max_tokens", MaxTokens);
        Add("query_prefix", QueryPrefix);
        Add("document_prefix", DocumentPrefix);
        Add("document_join", DocumentJoin);
        Add("image_size", ImageSize);
        Add("resize", Resize);
        return string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}"));
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
            sb.Append(c switch { '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", _ => c.ToString() });
        return sb.Append('"').ToString();
    }
}
