using Smec.Core.Runtime;
using Smec.Core.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Retrieval;

/// <summary>Moving embedding matrices into torch and into the form a similarity scores.</summary>
public static class EmbeddingTensors
{
    /// <summary>
    /// A [rows, dim] float32 tensor on the configured torch device (<see cref="TorchRuntime.Device"/>)
    /// holding a copy of the matrix, or of the given rows only.
    /// </summary>
    public static Tensor ToTensor(EmbeddingMatrix matrix, IReadOnlyList<int>? rows = null)
    {
        var values = matrix.Values;
        if (rows != null)
        {
            values = new float[rows.Count * (long)matrix.Dim];
            for (var i = 0; i < rows.Count; i++) matrix.Row(rows[i]).CopyTo(values.AsSpan(i * matrix.Dim, matrix.Dim));
        }
        var onHost = torch.tensor(values, [values.Length / matrix.Dim, matrix.Dim]);
        var device = TorchRuntime.Device;
        if (onHost.device == device) return onHost;
        using (onHost) return onHost.to(device);
    }

    /// <summary>
    /// Rows ready for the inner product: L2-normalised for cosine (zero rows stay zero), as is
    /// for dot. Returns a new tensor handle (for dot, on the same storage); the input is not modified.
    /// </summary>
    public static Tensor ForScoring(Tensor embeddings, Similarity similarity)
    {
        if (embeddings.dtype != ScalarType.Float32)
            throw new ArgumentException($"embeddings must be float32, got {embeddings.dtype}");
        if (embeddings.dim() != 2) throw new ArgumentException($"embeddings must be 2-D [rows, dim], got shape [{string.Join(", ", embeddings.shape)}]");
        using var noGrad = torch.no_grad();
        return similarity switch
        {
            Similarity.Cosine => embeddings / embeddings.norm(1, keepdim: true).clamp_min(1e-12),
            Similarity.Dot => embeddings.detach(), // a new handle on the same storage: no copy
            _ => throw new ArgumentOutOfRangeException(nameof(similarity), similarity, "unknown similarity"),
        };
    }
}
