using TorchSharp;

namespace Smec.Core.Runtime;

/// <summary>
/// The one place that seeds every random number generator and sets torch's thread count,
/// so that the same experiment seed gives bit-identical numbers on CPU.
/// </summary>
public static class Determinism
{
    public const string ThreadsVariable = "SMEC_THREADS";

    private static int _cappedNoted;

    /// <summary>
    /// Threads for torch: SMEC_THREADS if set to a positive integer, else the core count. More
    /// threads than cores only make them wait for each other (100,000 threads turned a 2-second job
    /// into minutes), so a larger value is capped at the core count, said once on stderr.
    /// </summary>
    public static int ConfiguredThreads()
    {
        var raw = Environment.GetEnvironmentVariable(ThreadsVariable);
        var cores = Environment.ProcessorCount;
        if (string.IsNullOrWhiteSpace(raw)) return cores;
        if (!int.TryParse(raw.Trim(), out var n) || n <= 0)
            throw new UserInputException($"{ThreadsVariable}: '{raw}' is not a positive whole number; expected 1 to {cores} (the cores of this machine)");
        if (n <= cores) return n;
        if (Interlocked.Exchange(ref _cappedNoted, 1) == 0)
            Console.Error.WriteLine($"smec: {ThreadsVariable}={n} exceeds the {cores} cores of this machine; using {cores} threads");
        return cores;
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
