using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>The batched pieces every ensemble method is built from: member rows and member linear layers.</summary>
public static class EnsembleLayers
{
    /// <summary>[K, B + M, D]: each member's batch rows (queries, then docs) gathered from <paramref name="items"/>.</summary>
    public static Tensor Rows(Tensor items, EnsembleBatch batch) =>
        items.index_select(0, batch.Items.flatten()).view(batch.Members, batch.Queries + batch.Docs, -1);

    /// <summary>Member k's linear layer on its rows: x [K, N, in] W [K, in, out] + b [K, out], in one batched product
    /// (as Linear's addmm for one member). TorchSharp's baddbmm is this (batch1) @ batch2 + mat.</summary>
    /// <param name="weight">Input-major ([K, in, out], see <see cref="InputMajor"/>): on the CPU a batched product with
    /// a transposed view of [K, out, in] weights takes about 1.5x as long forward and backward.</param>
    public static Tensor Affine(Tensor x, Tensor weight, Tensor bias) => x.baddbmm(weight, bias.unsqueeze(1));

    /// <summary>Linear layers' weights ([out, in] each) stacked input-major: [K, in, out], contiguous.</summary>
    public static Tensor InputMajor(IEnumerable<Tensor> weights) => stack(weights.Select(w => w.t()).ToArray()).contiguous();

    /// <summary>One member's layer on [n, in] rows, for validation: x W_k + b_k with input-major W_k [in, out].</summary>
    public static Tensor Member(Tensor x, Tensor weight, Tensor bias) => x.matmul(weight).Add(bias);
}
