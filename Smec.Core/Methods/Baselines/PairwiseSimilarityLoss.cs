using Smec.Core.Training;
using Smec.Core.Losses;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Matryoshka-Adaptor's pairwise similarity loss: keep every pair's cosine similarity under the
/// adaptor's m-prefix equal to the original full-dimension similarity,
/// mean over pairs i &lt; j of the batch and over prefixes m of |cos(e_i, e_j) - cos(e'_i[:m], e'_j[:m])|.
/// A batch of random corpus items gives the paper's "random pairs". Means (not the paper's sums)
/// keep the weights alpha and beta independent of batch size and of the number of prefixes.
/// </summary>
public static class PairwiseSimilarityLoss
{
    public static Tensor Compute(Tensor original, Tensor adapted, IReadOnlyList<int> prefixes)
    {
        if (original.dim() != 2 || adapted.dim() != 2 || original.shape[0] != adapted.shape[0])
            throw new ArgumentException($"expected (B x D) original and (B x D') adapted with the same B, got ({string.Join(", ", original.shape)}) and ({string.Join(", ", adapted.shape)})");
        var batch = original.shape[0];
        if (batch < 2) throw new ArgumentException("the pairwise loss needs at least 2 rows");
        PrefixCosine.CheckPrefixes(prefixes, adapted.shape[1]);
        using var scope = NewDisposeScope();
        var unit = nn.functional.normalize(original, p: 2.0, dim: 1);
        var target = unit.matmul(unit.t());
        var upper = ones(batch, batch, dtype: ScalarType.Bool, device: original.device).triu(1);
        var total = NestedLoss.Sum(prefixes, m =>
        {
            var prefix = PrefixCosine.NormalisedPrefix(adapted, m);
            return prefix.matmul(prefix.t()).sub(target).abs().masked_select(upper).mean();
        });
        return total.DividedBy(prefixes.Count).MoveToOuterDisposeScope();
    }
}
