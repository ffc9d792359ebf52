using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Frozen embeddings already put through the adaptor's fixed input map (corpus mean and PCA basis,
/// <see cref="ResidualAdaptor.Centre"/>), once per training stage. Why: the map is one of the six
/// matrix products of every Matryoshka-Adaptor step (anchors and their k neighbours), and its inputs
/// never change; a training batch gathers its mapped rows instead of mapping them again. A row of a
/// matrix product does not depend on the other rows (checked bit for bit against mapping each batch:
/// tests/Smec.Tests/Baselines/AdaptorTests.fs), so the numbers are unchanged.
/// </summary>
internal sealed class MappedEmbeddings : IDisposable
{
    /// <summary>[N, D] the mapped rows, in the order of the source matrix.</summary>
    public Tensor Rows { get; }

    public MappedEmbeddings(ResidualAdaptor adaptor, Tensor embeddings)
    {
        using var _ = no_grad();
        Rows = adaptor.Centre(embeddings).detach().clone();
    }

    /// <summary>The mapped rows at <paramref name="index"/> (int64 [n]).</summary>
    public Tensor Select(Tensor index) => Rows.index_select(0, index);

    public Tensor SelectRows(IReadOnlyList<int> rows) => Select(tensor(rows.Select(r => (long)r).ToArray()));

    public void Dispose() => Rows.Dispose();
}
