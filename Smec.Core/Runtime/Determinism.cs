using TorchSharp;

namespace Smec.Core.Runtime;

/// <summary>
/// The one place that seeds every random number generator and sets torch's thread count,
/// so that the same experiment seed gives bit-identical numbers on CPU.
/// </summary>
public static class Determinism
{
    public const string ThreadsVariable = "SMEC_THREADS";

    /// <summary>Threads for torch: SMEC_THREADS if set to a positive integer, else the core count.</summary>
    public static int ConfiguredThreads()
    {
        var raw = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (string.IsNullOrWhiteSpace(raw)) return Environment.ProcessorCount;
        if (int.TryParse(raw, out var n) && n > 0) return n;
        throw new ArgumentException($"{ThreadsVariable}='{raw}' is not a positive integer.");
    }

    /// <summary>Load libtorch and apply the thread setting (idempotent).</summary>
    public static void ConfigureTorch()
    {
        TorchRuntime.EnsureLoaded();
        var threads = ConfiguredThreads();
        if (torch.get_num_threads() != threads) torch.set_num_threads(threads);
    }

    /// <summary>
    /// Seed torch (CPU and, when present, CUDA) and return a .NET <see cref="Random"/> derived from
    /// the same seed. Code must take randomness from these, never from an unseeded source.
    /// </summary>
    public static Random Seed(long seed)
    {
        ConfigureTorch();
        torch.manual_seed(seed);
        if (TorchRuntime.Backend == "cuda" && torch.cuda.is_available()) torch.cuda.manual_seed_all(seed);
        return new Random(unchecked((int)(seed ^ (seed >> 32))));
    }

    /// <summary>A torch generator seeded independently of the global one (for data shuffling etc.).</summary>
    public static torch.Generator Generator(long seed)
    {
        ConfigureTorch();
        return new torch.Generator((ulong)seed);
    }
}
