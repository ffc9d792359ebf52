using Smec.Core.Methods.SmecMethod;

namespace Smec.Core.Training;

/// <summary>
/// What an ensemble of K members holds: the bytes every member adds, and the bytes all members that
/// train on the same data share (counted once, whatever K). Bytes(K) = Shared + K * PerMember.
/// </summary>
public sealed record EnsembleFootprint(long SharedBytes, long PerMemberBytes)
{
    public long Bytes(int members) => SharedBytes + members * PerMemberBytes;
}

/// <summary>The data an ensemble trains on (every member's fold of one dataset under one encoder).</summary>
/// <param name="AnchorItems">S-XBM's anchors over all members (the union of their train queries): the rows of the anchor-cosine table.</param>
public sealed record EnsembleData(long CorpusRows, long QueryRows, int EmbeddingDim, long ValidationQueries, long AnchorItems)
{
    public long Items => CorpusRows + QueryRows;
}

/// <summary>
/// The rule that sizes an ensemble to a memory budget (docs/PERFORMANCE.md, "Ensembles"). A member adds
/// its parameters six times (the values, their gradients, Adam's two moments and its square-root scratch,
/// the best-weight copy; plus one copy per per-dim best snapshot), one batch's activations (forward and
/// backward) and its own state (SMEC: its S-XBM memory; a later step's input table when its chain's
/// frozen prefix differs from every other member's). Shared by all members, once: the training
/// embeddings (the set's corpus and queries and the ensemble's items table), SMEC's anchor-cosine table
/// (<see cref="ItemCosines"/>, when it fits its budget) and the validation scratch (members validate one
/// after another). All tensors are float32 (4 bytes) but item ids (int64).
/// The activation part is an estimate from the shapes (the widest batch: every query's hard negatives
/// distinct, every memory neighbour distinct); EnsembleTests compares it with the tensors a step allocates.
/// </summary>
public static class EnsembleSizing
{
    private const long Float = sizeof(float);

    /// <summary>The parameter's value, gradient, first and second Adam moments, the fused pass's square-root scratch, the best copy.</summary>
    public const int ParameterCopies = 6;

    /// <summary>The memory one ensemble may take when its caller names none (a whole fit together splits its
    /// models into ensembles of at most this): 4 GiB, what a modest GPU holds beside its data. Not an option: it changes how models are grouped, never a number.</summary>
    public const long DefaultBudgetBytes = 4L << 30;

    /// <summary>The largest K whose ensemble fits <paramref name="budgetBytes"/> (0: not even one member).
    /// A group of more members is split into ceil(group / MaxMembers) ensembles.</summary>
    public static int MaxMembers(long budgetBytes, EnsembleFootprint footprint)
    {
        if (footprint.PerMemberBytes <= 0) throw new ArgumentException($"a member's footprint must be positive bytes, got {footprint.PerMemberBytes}");
        var free = budgetBytes - footprint.SharedBytes;
        return free < footprint.PerMemberBytes ? 0 : (int)Math.Min(int.MaxValue, free / footprint.PerMemberBytes);
    }

    /// <summary>The ensembles a group of <paramref name="members"/> is split into under the budget: each of at most MaxMembers.</summary>
    public static IReadOnlyList<int> Split(int members, long budgetBytes, EnsembleFootprint footprint)
    {
        var most = MaxMembers(budgetBytes, footprint);
        if (most == 0)
            throw new ArgumentException($"one member needs {footprint.Bytes(1)} bytes ({footprint.SharedBytes} shared), over the budget of {budgetBytes}; expected a larger budget");
        var parts = (members + most - 1) / most;
        // Even parts (not most, most, rest): the ensembles then take about the same time.
        return Enumerable.Range(0, parts).Select(i => members / parts + (i < members % parts ? 1 : 0)).ToArray();
    }

    /// <summary>Bytes per member of <paramref name="parameters"/> trained values (<see cref="ParameterCopies"/> plus the per-dim snapshots).</summary>
    public static long ParameterBytes(long parameters, int perDimSnapshots = 0) => Float * parameters * (ParameterCopies + perDimSnapshots);

    /// <summary>The training embeddings, once: the set's corpus and queries, and the ensemble's items table (docs, then queries).</summary>
    public static long EmbeddingBytes(EnsembleData data) => 2 * Float * data.Items * data.EmbeddingDim;

    /// <summary>One member's validation at a time: the compressed corpus and queries at every served width, and one query x doc score matrix.</summary>
    public static long ValidationBytes(EnsembleData data, IReadOnlyList<int> servedWidths) =>
        Float * ((data.CorpusRows + data.ValidationQueries) * servedWidths.Sum() + data.ValidationQueries * data.CorpusRows);

    /// <summary>An MRL member (one [out, in] layer, the loss on the output and each prefix in <paramref name="views"/>).</summary>
    public static EnsembleFootprint Mrl(EnsembleData data, int inputDim, int outputDim, IReadOnlyList<int> views, TrainingOptions training, int perDimSnapshots = 0)
    {
        var widths = views.Prepend(outputDim).ToArray();
        var (b, m) = BatchShape(training);
        var rows = b + m;
        // Forward: the gathered rows, the output; per view the normalised rows and 3 B x M score tensors; backward the same again.
        var activations = 2 * Float * (rows * ((long)inputDim + outputDim) + widths.Sum(w => rows * w + 3 * b * m));
        return new EnsembleFootprint(
            EmbeddingBytes(data) + ValidationBytes(data, widths),
            ParameterBytes((long)outputDim * inputDim + outputDim, perDimSnapshots) + activations);
    }

    /// <summary>A Search-Adaptor member (<see cref="Methods.Baselines.SearchAdaptorEnsemble"/>): the residual MLP
    /// (D -> H -> D; none when <paramref name="hiddenDim"/> is 0, the linear form), the projection to the ensemble's widest dim and the query predictor back to D (both padded to
    /// that dim), plus the member's own model and predictor, which hold its start and receive its best weights
    /// (one more copy of its parameters). The validation scratch also holds the adapted corpus (D) and f's hidden layer (H).</summary>
    public static EnsembleFootprint SearchAdaptor(EnsembleData data, int inputDim, int hiddenDim, int widestDim, TrainingOptions training)
    {
        long d = inputDim, h = hiddenDim, w = widestDim;
        var parameters = (h > 0 ? 2 * d * h + h + d : 0) + 2 * w * d + w + d;
        var (b, m) = BatchShape(training);
        var rows = b + m;
        // Forward: the gathered rows, f's hidden layer before and after relu, its output, the adapted rows, the
        // recovery difference and its norm, the projection; the positives, their prediction and its error; 3 B x M
        // score tensors. Backward the same again.
        var forward = rows * (5 * d + 2 * h + w) + b * (w + 2 * d) + 3 * b * m;
        return new EnsembleFootprint(
            EmbeddingBytes(data) + ValidationBytes(data, [widestDim]) + Float * (data.CorpusRows + data.ValidationQueries) * (d + h),
            ParameterBytes(parameters) + Float * parameters + 2 * Float * forward);
    }

    /// <summary>A SMEC step member (<see cref="SmecStepEnsemble"/>): its layer (and MLP, in the residual-MLP form) and ADS logits, its batch with S-XBM's
    /// memory rows, its S-XBM memory; the anchor-cosine table shared.</summary>
    /// <param name="firstStep">Its input is the frozen embedding itself (shared); a later step holds its own input table.</param>
    public static EnsembleFootprint SmecStep(EnsembleData data, int inputDim, int outputDim, IReadOnlyList<int> selectionDims, SmecOptions options,
        TrainingOptions training, bool firstStep, int perDimSnapshots = 0)
    {
        var levels = selectionDims.Count;
        var logits = 0L;
        var from = outputDim;
        foreach (var dim in selectionDims) { if (options.Ads) logits += from; from = dim; }
        // The residual-MLP form adds the MLP before the layer: W1, W2 [in, in] and their biases (StepMlps).
        var mlp = options.FunctionClass == Methods.FunctionClass.ResidualMlp;
        var parameters = (long)outputDim * inputDim + outputDim + logits + (mlp ? 2L * inputDim * inputDim + 2L * inputDim : 0);
        var (b, m) = BatchShape(training);
        var take = options.Sxbm ? Math.Min(options.SxbmTopK, options.SxbmCapacity) : 0;
        var memoryRows = (long)b * take;
        var rows = b + m + memoryRows;
        var views = 1 + levels;
        // ADS views keep the full width in training (masked copies of the output).
        var viewWidth = options.Ads ? (long)outputDim * views : selectionDims.Prepend(outputDim).Sum();
        var forward = rows * ((long)data.EmbeddingDim + (firstStep ? 0 : inputDim) + outputDim)
            + (mlp ? rows * 3L * inputDim : 0)                  // the MLP's hidden layer before and after relu, the adapted input
            + rows * viewWidth                                   // each view (ADS: masked output; off: a prefix)
            + views * 3L * b * m                                 // scores, masked logits, their softmax
            + (options.Sxbm ? 2L * memoryRows * data.EmbeddingDim // the teacher's chosen rows, normalised
                + 2L * memoryRows * viewWidth                     // each view's chosen rows, normalised
                + views * 3L * memoryRows : 0);                  // cosines and their difference
        var activations = 2 * Float * forward;
        var memory = SmecStepMemoryBytes(options, data.EmbeddingDim);
        var inputTable = firstStep ? 0 : Float * data.Items * inputDim;
        var cosines = options.Sxbm ? CosineTableBytes(data) : 0;
        var served = selectionDims.Prepend(outputDim).ToArray();
        return new EnsembleFootprint(
            EmbeddingBytes(data) + ValidationBytes(data, served) + cosines,
            ParameterBytes(parameters, perDimSnapshots) + activations + memory + inputTable);
    }

    /// <summary>One member's S-XBM memory (<see cref="CrossBatchMemory"/>): its embeddings and their normalised copy, the item ids, the cursor.</summary>
    public static long SmecStepMemoryBytes(SmecOptions options, int embeddingDim) =>
        options.Sxbm ? 2 * Float * options.SxbmCapacity * embeddingDim + sizeof(long) * (options.SxbmCapacity + 2L) : 0;

    /// <summary>S-XBM's anchor x item cosine table (<see cref="ItemCosines"/>), or 0 when over its budget (the memory multiplies instead).</summary>
    public static long CosineTableBytes(EnsembleData data)
    {
        var bytes = Float * data.AnchorItems * data.Items;
        return bytes > ItemCosines.BudgetBytes ? 0 : bytes;
    }

    /// <summary>Queries per batch and the widest doc count (each query's positive and its hard negatives all distinct).</summary>
    private static (long Queries, long Docs) BatchShape(TrainingOptions training) =>
        (training.BatchSize, (long)training.BatchSize * (1 + training.HardNegativesPerQuery));
}
