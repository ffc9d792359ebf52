using Smec.Core.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>The row normalisation every compressor ends with, and the argument checks they share.</summary>
public static class BaselineTensors
{
    /// <summary>Rows L2-normalised, as float32, wrapped with the given ids.</summary>
    public static EmbeddingMatrix ToNormalisedMatrix(IReadOnlyList<string> ids, Tensor rows)
    {
        using var scope = torch.NewDisposeScope();
        if (rows.dim() != 2 || rows.shape[0] != ids.Count)
            throw new ArgumentException($"expected a ({ids.Count} x d) tensor, got shape ({string.Join(", ", rows.shape)})");
        var normalised = nn.functional.normalize(rows.to_type(ScalarType.Float64), p: 2.0, dim: 1).to_type(ScalarType.Float32).contiguous();
        return new EmbeddingMatrix(ids, normalised.data<float>().ToArray(), (int)rows.shape[1]);
    }

    /// <summary>Rejects a dimension the compressor was not fitted for, naming what it can produce.</summary>
    public static void CheckDim(string method, IReadOnlyList<int> dims, int dim)
    {
        if (!dims.Contains(dim))
            throw new ArgumentOutOfRangeException(nameof(dim), $"{method} produces dims [{string.Join(", ", dims)}], not {dim}");
    }

    /// <summary>Rejects input whose width differs from what the compressor was fitted on.</summary>
    public static void CheckInputDim(string method, int expected, EmbeddingMatrix embeddings)
    {
        if (embeddings.Dim != expected)
            throw new ArgumentException($"{method} was fitted on {expected}-d embeddings, got {embeddings.Dim}-d input");
    }
}
