using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Retrieval;

/// <summary>
/// The k largest entries of every row of a CPU float32 score block: one pass over each row keeping a
/// min-heap of the best k, where a SIMD compare against the heap's smallest rejects eight entries at
/// a time; rows run in parallel. Why not torch.topk: selecting 101 of 100,000 scores per query cost
/// about a third of the matrix product that computed them (10k x 100k x 256: ~1 s against ~3 s),
/// while here almost every score is dismissed by one vector compare. Each row's entries come out
/// sorted by value, largest first; which of several entries tied at the k-th place is kept is
/// unspecified, as with topk (<see cref="ExactSearch"/> settles such ties from the full row).
/// A NaN score is an error: it has no place in a ranking. torch.topk is the test oracle
/// (tests/Smec.Tests/Retrieval/RowTopKTests.fs).
/// </summary>
public static class RowTopK
{
    /// <summary>Whether <see cref="Compute"/> can read <paramref name="block"/> in place.</summary>
    public static bool Supports(Tensor block) =>
        block.device_type == DeviceType.CPU && block.dtype == ScalarType.Float32 && block.is_contiguous() && block.dim() == 2;

    /// <summary>For each row r of <paramref name="block"/> ([rows, n], n &gt;= k), its k largest entries in
    /// values[r k .. r k + k) (descending) and their columns in indices.</summary>
    public static unsafe void Compute(Tensor block, int k, float[] values, long[] indices, int threads)
    {
        if (!Supports(block)) throw new ArgumentException("RowTopK reads a 2-d contiguous float32 CPU tensor");
        var rows = (int)block.shape[0];
        var n = (int)block.shape[1];
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} outside 1..{n}");
        if (values.Length < (long)rows * k || indices.Length < (long)rows * k) throw new ArgumentException($"outputs hold fewer than {rows} x {k} entries");
        fixed (byte* start = block.bytes)
        {
            var first = (IntPtr)start;
            try
            {
                Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, r =>
                    Row(new ReadOnlySpan<float>((float*)first + (long)r * n, n), values.AsSpan(r * k, k), indices.AsSpan(r * k, k)));
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                // The caller sees the row's own error (a NaN score), not the parallel loop's wrapper.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }
        }
    }

    /// <summary>One row: the heap lives in the output spans; a heap sort orders it at the end.</summary>
    private static void Row(ReadOnlySpan<float> row, Span<float> heapValues, Span<long> heapIndices)
    {
        var k = heapValues.Length;
        for (var i = 0; i < k; i++)
        {
            heapValues[i] = Checked(row[i], i);
            heapIndices[i] = i;
        }
        for (var i = k / 2 - 1; i >= 0; i--) SiftDown(heapValues, heapIndices, i, k);
        var threshold = heapValues[0];
        var j = k;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var origin = ref MemoryMarshal.GetReference(row);
            for (; j + Vector256<float>.Count <= row.Length; j += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref origin, (nuint)j);
                // Lanes above the threshold, or NaN (a NaN lane is unequal to itself).
                var bits = (Vector256.GreaterThan(v, Vector256.Create(threshold)) | ~Vector256.Equals(v, v)).ExtractMostSignificantBits();
                while (bits != 0)
                {
                    var lane = System.Numerics.BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    var x = Checked(row[j + lane], j + lane);
                    if (x > threshold) threshold = Replace(heapValues, heapIndices, x, j + lane);
                }
            }
        }
        for (; j < row.Length; j++)
        {
            var x = Checked(row[j], j);
            if (x > threshold) threshold = Replace(heapValues, heapIndices, x, j);
        }
        // Heap sort: the smallest moves to the end each time, so the row ends largest first.
        for (var end = k - 1; end > 0; end--)
        {
            (heapValues[0], heapValues[end]) = (heapValues[end], heapValues[0]);
            (heapIndices[0], heapIndices[end]) = (heapIndices[end], heapIndices[0]);
            SiftDown(heapValues, heapIndices, 0, end);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Checked(float value, int column) =>
        float.IsNaN(value) ? throw new ArgumentException($"a score is NaN (column {column}): the embeddings hold NaN; expected finite values") : value;

    /// <summary>Put (value, index) in place of the heap's smallest; returns the new smallest.</summary>
    private static float Replace(Span<float> values, Span<long> indices, float value, int index)
    {
        values[0] = value;
        indices[0] = index;
        SiftDown(values, indices, 0, values.Length);
        return values[0];
    }

    private static void SiftDown(Span<float> values, Span<long> indices, int i, int count)
    {
        while (true)
        {
            var smallest = i;
            var left = 2 * i + 1;
            var right = left + 1;
            if (left < count && values[left] < values[smallest]) smallest = left;
            if (right < count && values[right] < values[smallest]) smallest = right;
            if (smallest == i) return;
            (values[i], values[smallest]) = (values[smallest], values[i]);
            (indices[i], indices[smallest]) = (indices[smallest], indices[i]);
            i = smallest;
        }
    }
}
