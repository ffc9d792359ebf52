using TorchSharp;
using TorchSharp.Modules;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// ADS: keeps <see cref="OutputDim"/> of <see cref="InputDim"/> dimensions, chosen by one learnable
/// logit per input dimension. Training: Gumbel top-k, i.e. the top k of logits/tau + Gumbel noise
/// (a sample of k dims without replacement from softmax(logits/tau)), with a straight-through mask
/// whose forward value is exactly 1 on the kept dims and whose gradient is that of k*softmax, so
/// gradients reach the logits. Inference: the top k logits, a fixed index list. Either way the output
/// holds exactly k dims, in ascending index order. With <c>enabled = false</c> it is prefix selection
/// (the first k dims: MRL's truncation), with no parameters that train.
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
        using var values = logits.detach().cpu();
        // LINQ's sort is stable: equal logits keep the lower index first, so the list is deterministic.
        return values.data<float>().ToArray()
            .Select((value, index) => (value, index))
            .OrderByDescending(x => x.value)
            .Take(OutputDim)
            .Select(x => (long)x.index)
            .Order()
            .ToArray();
    }

    /// <summary>
    /// Draw this training step's selection: the kept dims (ascending) and the straight-through mask
    /// on them. Draw once per step and apply it to every input of the step (queries, docs, memory),
    /// or their similarities would compare different dims.
    /// </summary>
    public (Tensor Kept, Tensor Mask) Sample()
    {
        var gumbel = rand(InputDim, generator: NoiseGenerator, device: logits.device).ClampBetween(1e-10, 1.0).log().neg().log().neg();
        var perturbed = logits.DividedBy(Temperature).Add(gumbel);
        var kept = perturbed.detach().topk(OutputDim).indexes.sort().Values;
        var soft = perturbed.softmax(0).Times(OutputDim);
        // Straight-through: value 1 on the kept dims, gradient of the soft mask.
        var mask = (soft - soft.detach()).Plus(1.0).index_select(0, kept);
        return (kept, mask);
    }

    /// <summary>Apply a selection drawn by <see cref="Sample"/>.</summary>
    public static Tensor Apply(Tensor input, (Tensor Kept, Tensor Mask) selection) =>
        input.index_select(1, selection.Kept) * selection.Mask;

    /// <summary>Inference: the fixed index list. Training: a fresh sample (use Sample/Apply when several inputs must share it).</summary>
    public override Tensor forward(Tensor input)
    {
        if (!Enabled) return input.narrow(1, 0, OutputDim);
        if (!training) return input.index_select(1, tensor(SelectedIndices(), device: input.device));
        return Apply(input, Sample());
    }
}
