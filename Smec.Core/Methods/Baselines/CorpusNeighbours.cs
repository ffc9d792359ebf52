using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Each corpus item's k nearest other items by cosine under the frozen encoder, found once before
/// training: the neighbourhoods Matryoshka-Adaptor's top-k loss preserves. (The paper does not say
/// whether neighbours come from the batch or the corpus; the corpus is the inferred default, since
/// a batch of 128 random items rarely holds anyone's true neighbours.)
/// </summary>
public static class CorpusNeighbours
{
    /// <returns>(N x k) int64 row indices, nearest first; ties by lower row (torch.topk order on CPU).</returns>
    public static Tensor Find(Tensor corpus, int k, int chunkRows = 1024)
    {
        var n = corpus.shape[0];
        if (k <= 0 || k >= n) throw new ArgumentException($"k must be within 1..{n - 1}, got {k}");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var unit = nn.functional.normalize(corpus.to_type(ScalarType.Float32), p: 2.0, dim: 1);
        var parts = new List<Tensor>();
        for (long start = 0; start < n; start += chunkRows)
        {
            var length = Math.Min(chunkRows, n - start);
            var scores = unit.narrow(0, start, length).matmul(unit.t());
            // Exclude each item itself.
            var self = ScalarSafe.Arange(length).Plus(start).unsqueeze(1);
            scores = scores.FillWhere(ScalarSafe.Arange(n).unsqueeze(0).eq(self), double.NegativeInfinity);
            parts.Add(scores.topk(k, dim: 1, largest: true, sorted: true).indexes);
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }
}
