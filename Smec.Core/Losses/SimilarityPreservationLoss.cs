using static TorchSharp.torch;

namespace Smec.Core.Losses;

/// <summary>
/// Unsupervised similarity preservation: mean |cos(x_i, x_j) - cos(z_i, z_j)| over the ordered pairs
/// i != j of a set of items, x the frozen (teacher) embeddings, z the compressed ones. The reference
/// "plain linear map" uses it on random corpus docs; Matryoshka-Adaptor's pairwise loss has this form.
/// </summary>
public static class SimilarityPreservationLoss
{
    public static Tensor Compute(Tensor teacher, Tensor student)
    {
        var n = teacher.shape[0];
        if (n < 2) return student.sum() - student.sum().detach(); // no pair: a zero that keeps the graph
        var t = nn.functional.normalize(teacher, dim: 1);
        var s = nn.functional.normalize(student, dim: 1);
        var diff = (t.matmul(t.t()) - s.matmul(s.t())).abs();
        var offDiagonal = ones(n, n, dtype: ScalarType.Bool, device: diff.device).logical_xor(eye(n, dtype: ScalarType.Bool, device: diff.device));
        return diff.masked_select(offDiagonal).mean();
    }
}
