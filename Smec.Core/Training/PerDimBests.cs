using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// The best validation at one served dim over a run (per-dim selection, <see cref="Methods.DimSelection.PerDim"/>):
/// its score, the step it was reached at, and a snapshot of every trained parameter at that step (in
/// the order of the task's parameter groups). The caller owns the tensors (see <see cref="TrainingResult.DisposePerDim"/>).
/// </summary>
public sealed record DimBest(int Dim, double BestValidationNdcg10, int BestStep, IReadOnlyList<Tensor> Weights);

/// <summary>
/// The loop's per-dim selection state: for each dim the task scores, the best score so far, its step
/// and a parameter snapshot, kept outside every step scope. Why a class of its own: the checkpoint must
/// carry it (a resumed run is bit-identical to an uninterrupted one) and the loop hands it back.
/// </summary>
internal sealed class PerDimBests : IDisposable
{
    private readonly List<int> _dims = [];
    private readonly Dictionary<int, (double Score, int Step, Tensor[] Weights)> _best = new();

    public IReadOnlyList<int> Dims => _dims;
    public int Count => _dims.Count;

    /// <summary>The first dim the task scores: its snapshot is what the loop leaves in the parameters.</summary>
    public int Primary => _dims[0];

    /// <summary>Mean over dims of each dim's best score (what progress and the summary report).</summary>
    public double MeanBest => _dims.Count == 0 ? double.NegativeInfinity : _dims.Average(d => _best[d].Score);

    public (double Score, int Step) Best(int dim) => (_best[dim].Score, _best[dim].Step);

    /// <summary>Make room for a dim (first validation or resume): best score -inf, the current parameters as snapshot.</summary>
    public void Add(int dim, IReadOnlyList<Tensor> parameters)
    {
        if (_best.ContainsKey(dim)) throw new ArgumentException($"per-dim selection: dim {dim} is scored twice by one validation");
        _dims.Add(dim);
        _best[dim] = (double.NegativeInfinity, 0, parameters.Select(p => p.detach().clone()).ToArray());
    }

    /// <summary>Record one validation; returns whether any dim improved (strictly). Snapshots the improved dims.</summary>
    public bool Record(IReadOnlyList<(int Dim, double Ndcg)> byDim, int step, IReadOnlyList<Tensor> parameters)
    {
        if (_dims.Count == 0)
            foreach (var (dim, _) in byDim) Add(dim, parameters);
        if (byDim.Count != _dims.Count || byDim.Select(x => x.Dim).Except(_dims).Any())
            throw new InvalidOperationException($"per-dim selection: validation scored dims [{string.Join(", ", byDim.Select(x => x.Dim))}], expected [{string.Join(", ", _dims)}]");
        var improved = false;
        foreach (var (dim, score) in byDim)
        {
            var current = _best[dim];
            if (!(score > current.Score)) continue;
            TrainingLoop.CopyInto(current.Weights, parameters);
            _best[dim] = (score, step, current.Weights);
            improved = true;
        }
        return improved;
    }

    /// <summary>The snapshot of <paramref name="dim"/>.</summary>
    public IReadOnlyList<Tensor> Weights(int dim) => _best[dim].Weights;

    public void Write(BinaryWriter w)
    {
        w.Write(_dims.Count);
        foreach (var dim in _dims)
        {
            var (score, step, weights) = _best[dim];
            w.Write(dim); w.Write(score); w.Write(step);
            for (var i = 0; i < weights.Length; i++) TensorIO.Write(w, $"dim{dim}.best{i}", weights[i]);
        }
    }

    public void Read(BinaryReader r, IReadOnlyList<Tensor> parameters, string path)
    {
        var count = r.ReadInt32();
        for (var k = 0; k < count; k++)
        {
            var dim = r.ReadInt32();
            var score = r.ReadDouble();
            var step = r.ReadInt32();
            Add(dim, parameters);
            var weights = _best[dim].Weights;
            for (var i = 0; i < weights.Length; i++) TensorIO.ReadInto(r, $"dim{dim}.best{i}", weights[i], path);
            _best[dim] = (score, step, weights);
        }
    }

    /// <summary>Hand the snapshots to the caller (who then owns them); this object no longer disposes them.</summary>
    public IReadOnlyList<DimBest> Release()
    {
        var result = _dims.Select(d => new DimBest(d, _best[d].Score, _best[d].Step, _best[d].Weights)).ToArray();
        _dims.Clear();
        _best.Clear();
        return result;
    }

    public void Dispose()
    {
        foreach (var (_, _, weights) in _best.Values)
            foreach (var t in weights) t.Dispose();
        _best.Clear();
        _dims.Clear();
    }
}
