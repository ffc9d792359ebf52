using TorchSharp;
using TorchSharp.Modules;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// ADS: keeps <see cref="OutputDim"/> of <see cref="InputDim"/> dimensions, chosen by one learnable
/// logit per input dimension. Training: Gumbel top-k, i.e. the top k of keys = logits/tau + Gumbel
/// noise (a sample of k dims without replacement from softmax(logits/tau)). The mask is
/// straight-through over the FULL width: mask = hard + soft - stop_gradient(soft), multiplied into
/// all InputDim dims, so its forward value is exactly 1 on the kept dims and 0 elsewhere, while its
/// gradient is that of the relaxed top-k "soft" of Xie and Ermon (Reparameterizable Subset Sampling
/// via Continuous Relaxations, IJCAI 2019: k successive softmaxes over the keys, each step damping
/// what was already taken by log(1 - p)). Every dim, kept or not, then receives a gradient: an
/// unkept dim's value enters the loss through its mask entry (a zero whose derivative is its value),
/// so the selection can move away from where it started. (With a gather of the kept dims only, an
/// unkept dim gets no signal but the softmax normaliser.) Inference: the top k logits, a fixed
/// index list. With <c>enabled = false</c> it is prefix selection (the first k dims: MRL's
/// truncation), with no parameters that train.
/// </summary>
public sealed class AdaptiveDimensionSelection : nn.Module<Tensor, Tensor>
{
    public int InputDim { get; }
    public int OutputDim { get; }
    public bool Enabled { get; }
    /// <summary>Gumbel-softmax temperature used in training; the objective anneals it.</summary>
    public double Temperature { get; set; } = 1.0;
    /// <summary>Noise source for training; the loop's per-step generator (null: torch's global one).</summary>
    public Generator? NoiseGenerator { get; set; }

    private readonly Parameter logits;

    public AdaptiveDimensionSelection(int inputDim, int outputDim, bool enabled = true) : base("ads")
    {
        if (outputDim < 1 || outputDim > inputDim)
            throw new ArgumentException($"ADS must keep between 1 and {inputDim} dims, asked for {outputDim}");
        InputDim = inputDim;
        OutputDim = outputDim;
        Enabled = enabled;
        logits = nn.Parameter(zeros(inputDim), requires_grad: enabled);
        RegisterComponents();
    }

    public Parameter Logits => logits;

    /// <summary>Set the logits (e.g. from each dim's log-variance, so the start keeps the strongest dims).</summary>
    public void InitialiseLogits(Tensor values)
    {
        using var _ = no_grad();
        logits.copy_(values);
    }

    /// <summary>The dims kept at inference: the top-k logits (ties to the lower index), ascending. Prefix when disabled.</summary>
    public long[] SelectedIndices()
    {
        if (!Enabled) return Enumerable.Range(0, OutputDim).Select(i => (long)i).ToArray();
        return TopIndices(logits, OutputDim);
    }

    /// <summary>
    /// Draw this training step's selection: the kept dims (ascending) and the straight-through mask
    /// over all InputDim dims (1 on the kept dims, 0 elsewhere, relaxed-top-k gradient everywhere).
    /// Draw once per step and apply it to every input of the step (queries, docs, memory), or their
    /// similarities would compare different dims.
    /// </summary>
    public (Tensor Kept, Tensor Mask) Sample() => Sample(logits, OutputDim, Temperature, NoiseGenerator);

    /// <summary>
    /// <see cref="Sample()"/> for any 1-d logit vector (an ensemble member's row of a [K, InputDim]
    /// parameter): one Gumbel draw of logits.numel() values from <paramref name="noise"/>, so a member
    /// given its own step generator draws exactly what its ADS draws alone.
    /// </summary>
    public static (Tensor Kept, Tensor Mask) Sample(Tensor logits, int keep, double temperature, Generator? noise)
    {
        var inputDim = logits.shape[0];
        var gumbel = rand(inputDim, generator: noise, device: logits.device).ClampBetween(1e-10, 1.0).log().neg().log().neg();
        var keys = logits.DividedBy(temperature).Add(gumbel);
        var kept = keys.detach().topk(keep).indexes.sort().Values;
        var hard = zeros(inputDim, device: logits.device).scatter(0, kept, ones(keep, device: logits.device));
        var soft = RelaxedTopK.Compute(keys, keep);
        return (kept, hard.Add(soft.Add(soft.detach().neg())));
    }

    /// <summary><see cref="SelectedIndices"/> for any 1-d logit vector: the top <paramref name="keep"/> logits, ties to the lower index, ascending.</summary>
    public static long[] TopIndices(Tensor logits, int keep)
    {
        using var values = logits.detach().cpu();
        // LINQ's sort is stable: equal logits keep the lower index first, so the list is deterministic.
        return values.data<float>().ToArray()
            .Select((value, index) => (value, index))
            .OrderByDescending(x => x.value)
            .Take(keep)
            .Select(x => (long)x.index)
            .Order()
            .ToArray();
    }

    /// <summary>Apply a selection drawn by <see cref="Sample"/>: the input at full width, zero outside
    /// the kept dims (cosines and norms equal those of the kept dims alone).</summary>
    public static Tensor Apply(Tensor input, (Tensor Kept, Tensor Mask) selection) => input * selection.Mask;

    /// <summary>Inference: the fixed index list (k dims). Training: a fresh sample at full width (use
    /// Sample/Apply when several inputs must share it).</summary>
    public override Tensor forward(Tensor input)
    {
        if (!Enabled) return input.narrow(1, 0, OutputDim);
        if (!training) return input.index_select(1, tensor(SelectedIndices(), device: input.device));
        return Apply(input, Sample());
    }
}
