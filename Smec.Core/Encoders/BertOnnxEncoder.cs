using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Encoders;

/// <summary>
/// A BERT-style sentence encoder run with ONNX Runtime (all-MiniLM-L6-v2, arctic-embed-xs):
/// WordPiece tokenization (Microsoft.ML.Tokenizers' BertTokenizer), truncation to max_tokens
/// including [CLS]/[SEP], the model's last_hidden_state pooled by mean over the attention mask
/// or by the [CLS] token, then L2 normalisation. Texts are sorted by token count and batched so
/// that padding stays small; outputs come back in input order.
/// </summary>
public sealed class BertOnnxEncoder : ITextEncoder
{
    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly EncoderSettings _settings;
    private readonly int _maxTokens;
    private readonly bool _meanPooling;

    public string Id { get; }
    public int Dim { get; }
    public string Settings { get; }
    /// <summary>Texts per ONNX call; padding is to the longest text of the batch. 8 was the fastest
    /// bare ONNX Runtime batch in `smec bench` (of 8, 32, 64); the batch size changes no bit of the
    /// embeddings (a test checks), so it is not part of the encoder's settings or cache key.</summary>
    public int BatchSize { get; init; } = 8;

    public BertOnnxEncoder(EncoderManifest manifest)
    {
        if (manifest.Kind != "onnx-bert") throw new ArgumentException($"encoder '{manifest.Id}' is {manifest.Kind}, not onnx-bert");
        Id = manifest.Id;
        Dim = manifest.Dim;
        _settings = manifest.Settings;
        Settings = _settings.Canonical();
        _maxTokens = _settings.MaxTokens!.Value;
        _meanPooling = _settings.Pooling == "mean";
        var package = manifest.Source.Package!;
        using (var vocab = EmbeddedModel.Open(package, manifest.Source.VocabResource!))
            _tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = _settings.Lowercase!.Value });
        _session = OnnxSessions.FromBytes(EmbeddedModel.ReadAll(package, manifest.Source.Resource!), $"{package}:{manifest.Source.Resource}");
        var output = _session.OutputMetadata["last_hidden_state"];
        if (output.Dimensions[^1] != Dim)
            throw new InvalidDataException($"{manifest.ManifestFile}: dim is {Dim}, but the model's last_hidden_state has width {output.Dimensions[^1]}");
    }

    /// <summary>The token ids the model sees for a text (with [CLS] and [SEP], truncated to max_tokens).</summary>
    public IReadOnlyList<int> Tokenize(string text) =>
        _tokenizer.EncodeToIds(text, _maxTokens, addSpecialTokens: true, out _, out _);

    public float[] Encode(IReadOnlyList<string> texts, EncodeRole role, IProgress<int>? progress = null)
    {
        var prefix = (role == EncodeRole.Query ? _settings.QueryPrefix : _settings.DocumentPrefix) ?? "";
        var tokens = texts.Select(t => Tokenize(prefix + t)).ToArray();
        // Longest first: the first batch shows the worst-case memory at once, and similar lengths pad little.
        var order = Enumerable.Range(0, texts.Count).OrderByDescending(i => tokens[i].Count).ThenBy(i => i).ToArray();
        var result = new float[texts.Count * Dim];
        var done = 0;
        for (var start = 0; start < order.Length; start += BatchSize)
        {
            var batch = order.AsSpan(start, Math.Min(BatchSize, order.Length - start)).ToArray();
            EncodeBatch(batch.Select(i => tokens[i]).ToArray(), batch, result);
            done += batch.Length;
            progress?.Report(done);
        }
        return result;
    }

    private void EncodeBatch(IReadOnlyList<int>[] batch, int[] rows, float[] result)
    {
        var length = batch.Max(t => t.Count);
        var shape = new[] { batch.Length, length };
        var ids = new DenseTensor<long>(shape);
        var mask = new DenseTensor<long>(shape);
        var types = new DenseTensor<long>(shape); // single-segment input: all zeros
        for (var b = 0; b < batch.Length; b++)
            for (var t = 0; t < batch[b].Count; t++)
            {
                ids[b, t] = batch[b][t];
                mask[b, t] = 1;
            }
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", ids),
            NamedOnnxValue.CreateFromTensor("attention_mask", mask),
            NamedOnnxValue.CreateFromTensor("token_type_ids", types),
        };
        using var outputs = _session.Run(inputs, ["last_hidden_state"]);
        var hidden = outputs[0].AsTensor<float>() as DenseTensor<float>
            ?? throw new InvalidDataException("last_hidden_state is not a dense float tensor");
        var h = hidden.Buffer.Span; // [batch, length, dim]
        for (var b = 0; b < batch.Length; b++)
        {
            var row = result.AsSpan(rows[b] * Dim, Dim);
            var count = _meanPooling ? batch[b].Count : 1; // cls: token 0 only
            for (var t = 0; t < count; t++)
            {
                var token = h.Slice((b * length + t) * Dim, Dim);
                for (var d = 0; d < Dim; d++) row[d] += token[d];
            }
            for (var d = 0; d < Dim; d++) row[d] /= count;
            if (_settings.Normalize) Vectors.NormalizeL2(row);
        }
    }

    public void Dispose() => _session.Dispose();
}
