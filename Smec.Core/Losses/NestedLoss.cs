using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Losses;

/// <summary>
/// MRL's nested loss: the sum of a loss over the prefixes of several sizes of one output
/// (the thing SMRL replaces by sequential steps). <paramref name="views"/> may be prefixes or any
/// selection; the loss is applied to each view in turn and summed with equal weights.
/// </summary>
public static class NestedLoss
{
    public static Tensor Sum<TView>(IEnumerable<TView> views, Func<TView, Tensor> loss)
    {
        Tensor? total = null;
        foreach (var view in views)
        {
            var term = loss(view);
            total = total is null ? term : total.Add(term);
        }
        return total ?? throw new ArgumentException("the nested loss needs at least one view");
    }

    /// <summary>The first <paramref name="dim"/> columns of a [n, D] tensor, as they are (not renormalised;
    /// <see cref="Baselines.PrefixCosine.NormalisedPrefix"/> renormalises).</summary>
    public static Tensor FirstColumns(Tensor embeddings, int dim) => embeddings.narrow(1, 0, dim);
}
