using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// <see cref="SmrlStepLoss"/> for K members of one SMEC step at once: every member's rows through its
/// layer in one batched product, its views (full output, then its ADS selections as full-width masks,
/// or prefixes with ADS off), the ranking loss on each view (<see cref="EnsembleRankingLoss"/>) plus the
/// S-XBM alignment on the member's memory pairs. Member k's value is SmrlStepLoss's on its own rows, up
/// to float rounding. One function for training and for `smec bench`, so the benchmarked step is the trained one.
/// </summary>
public static class SmecStepEnsembleLoss
{
    /// <summary>S-XBM's chosen pairs of every member: Rows [K * A * take] the chosen rows among all members' rows
    /// flattened (member k's row i is k * R + i), Valid [K, A, take].</summary>
    public readonly record struct MemoryPairs(Tensor Rows, Tensor Valid)
    {
        /// <param name="memberIndex">Per member its chosen slots' rows among its own R rows ([A * take] int64, on the host).</param>
        public static MemoryPairs Of(IReadOnlyList<Tensor> memberIndex, Tensor valid, long rowsPerMember, Device device)
        {
            // Offsets added on the host: an int64 tensor plus a number would pass a temporary Scalar (ScalarSafe).
            var flat = memberIndex.SelectMany((index, k) => index.data<long>().ToArray().Select(row => k * rowsPerMember + row)).ToArray();
            return new MemoryPairs(tensor(flat, device: device), valid.to(device));
        }
    }

    /// <param name="weight">[K, out, in]; <paramref name="bias"/> [K, out].</param>
    /// <param name="inputs">[K, R, in]: each member's step input on its rows (queries, padded docs, memory items).</param>
    /// <param name="teacher">[K, R, D]: the frozen embedding of each row.</param>
    /// <param name="viewMasks">With ADS: per selection a [K, out] mask (<see cref="SmrlStep.ViewMasks"/> per member);
    /// null with ADS off (prefixes of <paramref name="selectionDims"/>).</param>
    public static Tensor Compute(Tensor weight, Tensor bias, Tensor inputs, Tensor teacher, IReadOnlyList<Tensor>? viewMasks,
        IReadOnlyList<int> selectionDims, EnsembleBatch batch, MemoryPairs? memory, IReadOnlyList<RankingLossForm> forms, SmecOptions options)
    {
        var output = EnsembleLayers.Affine(inputs, weight, bias);
        var views = new List<Tensor> { output };
        if (viewMasks is null) views.AddRange(selectionDims.Select(dim => output.narrow(2, 0, dim)));
        else views.AddRange(viewMasks.Select(mask => output * mask.unsqueeze(1)));
        // As the step alone: the widths the weighting sees are the views' (full width under ADS in training).
        var weights = SmecOptions.ViewWeights(options.DimWeighting, views.Select(v => (int)v.shape[2]).ToArray());
        var b = batch.Queries;
        Tensor? teacherCos = null, validFloat = null, validCount = null;
        if (memory is { } pairs)
        {
            var take = pairs.Valid.shape[2];
            teacherCos = CosineToEach(teacher.narrow(1, 0, b), Gather(teacher, pairs.Rows, b, take));
            validFloat = pairs.Valid.to(ScalarType.Float32);
            validCount = validFloat.sum([1, 2]);
        }
        var viewIndex = 0;
        return NestedLoss.Sum(views, view =>
        {
            var term = EnsembleRankingLoss.Compute(forms, view.narrow(1, 0, b), view.narrow(1, b, batch.Docs), batch, options.LossTemperature);
            if (memory is { } chosen)
            {
                var studentCos = CosineToEach(view.narrow(1, 0, b), Gather(view, chosen.Rows, b, chosen.Valid.shape[2]));
                // The mean over each member's valid pairs (0 when it has none, as the step alone gives).
                var alignment = ((teacherCos! - studentCos).abs() * validFloat!).sum([1, 2]) / validCount!.ClampMin(1.0);
                term = term.Add(alignment.Times(options.SxbmWeight));
            }
            var weight = weights[viewIndex++];
            return options.DimWeighting == DimWeighting.Uniform ? term : term.Times(weight);
        });
    }

    /// <summary>[K, A, take, d]: each member's chosen rows of [K, R, d] by flattened row (an index_select: its
    /// backward is one index_add, where a gather over an expanded index scatters element by element).</summary>
    private static Tensor Gather(Tensor rows, Tensor flatRows, long anchors, long take)
    {
        var (members, width) = (rows.shape[0], rows.shape[2]);
        return rows.reshape(-1, width).index_select(0, flatRows).view(members, anchors, take, width);
    }

    /// <summary>cos(a_ki, m_kij) for a [K, A, d] and m [K, A, take, d]: [K, A, take] (SxbmAlignmentLoss's, per member).</summary>
    private static Tensor CosineToEach(Tensor anchors, Tensor memory) =>
        nn.functional.normalize(memory, dim: 3).matmul(nn.functional.normalize(anchors, dim: 2).unsqueeze(3)).squeeze(3);
}
