using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>How a step's rows are laid out: the batch's queries, its candidate docs, its random docs,
/// then the memory items; the first <see cref="Anchors"/> rows are S-XBM's anchors.</summary>
public readonly record struct StepRows(int Queries, int Docs, int RandomDocs, int Anchors)
{
    /// <summary>Where the memory items start.</summary>
    public int MemoryStart => Queries + Docs + RandomDocs;
}

/// <summary>
/// The loss of one SMRL step on its rows, given S-XBM's choice of memory pairs: the supervised loss on
/// each view (the step's output and its ADS selections, drawn once for all rows), plus the
/// similarity-preservation and S-XBM alignment terms on the same views. One function for the training
/// objective (<see cref="SmrlStepObjective"/>) and for `smec bench`, so the benchmarked step is the
/// trained one.
/// </summary>
public static class SmrlStepLoss
{
    /// <param name="step">The step being trained (training mode: its ADS sample here).</param>
    /// <param name="inputs">[N, in]: the step's input for every row.</param>
    /// <param name="teacher">[N, D]: the frozen embedding of every row.</param>
    /// <param name="memory">S-XBM's pairs: per anchor its chosen memory rows (index into the rows,
    /// [anchors x K]) and which are valid ([anchors, K] bool); null = no S-XBM term.</param>
    public static Tensor Compute(SmrlStep step, Tensor inputs, Tensor teacher, StepRows rows, Tensor relevance, Tensor positiveColumn,
        (Tensor Index, Tensor Valid)? memory, SmecOptions options)
    {
        var (b, m, r, anchors) = (rows.Queries, rows.Docs, rows.RandomDocs, rows.Anchors);
        var output = step.forward(inputs);
        var views = step.Select(output).Prepend(output).ToList();
        // Uniform weighting multiplies by nothing, so the default is today's arithmetic exactly.
        var weights = SmecOptions.ViewWeights(options.DimWeighting, views.Select(v => (int)v.shape[1]).ToArray());
        var viewIndex = 0;
        // S-XBM's targets (frozen cosines) are the same for every view: once per step.
        var teacherCos = memory is { } pairs
            ? SxbmAlignmentLoss.TeacherCosines(teacher.narrow(0, 0, anchors), teacher.index_select(0, pairs.Index).view(anchors, -1, teacher.shape[1]))
            : null;
        return NestedLoss.Sum(views, view =>
        {
            var term = RankingLoss.Compute(options.LossForm, view.narrow(0, 0, b), view.narrow(0, b, m),
                relevance, positiveColumn, options.LossTemperature);
            if (r > 0)
                term = term.Add(SimilarityPreservationLoss.Compute(teacher.narrow(0, b + m, r), view.narrow(0, b + m, r)).Times(options.SimilarityWeight));
            if (memory is { } chosen)
            {
                var studentMemory = view.index_select(0, chosen.Index).view(anchors, -1, view.shape[1]);
                term = term.Add(SxbmAlignmentLoss.Compute(teacherCos!, view.narrow(0, 0, anchors), studentMemory, chosen.Valid)
                    .Times(options.SxbmWeight));
            }
            var weight = weights[viewIndex++];
            return options.DimWeighting == DimWeighting.Uniform ? term : term.Times(weight);
        });
    }

    /// <summary>The memory items a step puts through its layer, each once (neighbours repeat across
    /// anchors), and for each chosen slot its row among the step's rows (the items start at
    /// <paramref name="memoryStart"/>).</summary>
    public static (long[] Items, Tensor Index) MemoryRows(long[] slotItems, int memoryStart)
    {
        var unique = slotItems.Distinct().ToArray();
        var position = unique.Select((item, i) => (item, i)).ToDictionary(x => x.item, x => (long)(memoryStart + x.i));
        return (unique, tensor(slotItems.Select(item => position[item]).ToArray()));
    }
}
