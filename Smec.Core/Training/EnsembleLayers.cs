using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>The batched pieces every ensemble method is built from: member rows and member linear layers.</summary>
public static class EnsembleLayers
{
    /// <summary>[K, B + M, D]: each member's batch rows (queries, then docs) gathered from <paramref name="items"/>.</summary>
    public static Tensor Rows(Tensor items, EnsembleBatch batch) =>
        items.index_select(0, batch.Items.flatten()).view(batch.Members, batch.Queries + batch.Docs, -1);

    /// <summary>Member k's linear layer on its rows: x [K, N, in] W [K, out, in]^T + b [K, out], in one batched product
    /// (as Linear's addmm for one member). TorchSharp's baddbmm is this (batch1) @ batch2 + mat.</summary>
    public static Tensor Affine(Tensor x, Tensor weight, Tensor bias) => x.baddbmm(weight.transpose(1, 2), bias.unsqueeze(1));
}
