using static TorchSharp.torch;

namespace Smec.Core.Losses;

/// <summary>
/// S-XBM's unsupervised alignment on selected pairs: for anchor i and its selected memory entries j,
/// |cos(e_i, m_j) - cos(g(e_i), g(m_j))| with e, m teacher (full) and g(.) student embeddings,
/// averaged over the valid pairs (the inferred form of docs/METHOD.md, "S-XBM", as Matryoshka-Adaptor's top-k loss).
/// </summary>
public static class SxbmAlignmentLoss
{
    /// <param name="teacherAnchors">[B, D]</param>
    /// <param name="teacherMemory">[B, K, D] the selected entries per anchor</param>
    /// <param name="studentAnchors">[B, d]</param>
    /// <param name="studentMemory">[B, K, d]</param>
    /// <param name="valid">[B, K] bool: false where fewer than K entries could be selected</param>
    public static Tensor Compute(Tensor teacherAnchors, Tensor teacherMemory, Tensor studentAnchors, Tensor studentMemory, Tensor valid) =>
        Compute(TeacherCosines(teacherAnchors, teacherMemory), studentAnchors, studentMemory, valid);

    /// <summary>cos(e_i, m_j) [B, K]: the target side, the same for every view of a step (compute it once).</summary>
    public static Tensor TeacherCosines(Tensor teacherAnchors, Tensor teacherMemory) => CosineToEach(teacherAnchors, teacherMemory);

    /// <summary>The loss against teacher cosines from <see cref="TeacherCosines"/>.</summary>
    public static Tensor Compute(Tensor teacherCos, Tensor studentAnchors, Tensor studentMemory, Tensor valid)
    {
        var studentCos = CosineToEach(studentAnchors, studentMemory);
        var diff = (teacherCos - studentCos).abs().masked_select(valid);
        // No valid pair (an empty memory): a zero that still carries the graph.
        return diff.numel() == 0 ? studentAnchors.sum() - studentAnchors.sum().detach() : diff.mean();
    }

    /// <summary>cos(a_i, m_ij) for a [B, D] and m [B, K, D]: [B, K].</summary>
    private static Tensor CosineToEach(Tensor anchors, Tensor memory) =>
        nn.functional.normalize(memory, dim: 2).matmul(nn.functional.normalize(anchors, dim: 1).unsqueeze(2)).squeeze(2);
}
