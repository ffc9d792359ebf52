using System.Runtime.InteropServices;

namespace Smec.Core.Runtime;

/// <summary>
/// Keeps libtorch's CPU tensors on glibc malloc's heap, so a training step's large temporaries reuse the
/// same memory step after step instead of being mapped fresh from the kernel, and faulted in page by
/// page, on every step.
///
/// Why: glibc serves a block above its mmap threshold (128 KiB at start, rising with what the process
/// frees, at most 32 MiB) with a fresh mmap and unmaps it on free, and it trims free memory at the top
/// of its heap above a trim threshold that moves with it. An ensemble step's temporaries reach tens of
/// MB each (32 SMEC members' rows are 41 MB, 32 Matryoshka-Adaptor members' 88 MB), above any mmap
/// threshold, so every one of them was a fresh mapping: measured in `smec bench --only ensembles`
/// on this 2-core machine, SMEC's 32-member step took 840 ms with 40,000 page faults a step, and
/// 330 ms with none of those with the heap kept; Matryoshka-Adaptor's 2,600 ms against 1,370
/// (docs/PERFORMANCE.md, "Ensembles: many models as one (2026-12-07)", its paragraph on the allocator).
/// Fixing only the trim threshold is far worse than neither:
/// it freezes the mmap threshold at 128 KiB.
///
/// What: one arena for every thread, no mmap for any block (every block comes from the heap and
/// returns to it) and a trim threshold of 1 GiB (free memory at the heap's top is handed back above
/// that). Resident memory may so stay up to 1 GiB above what a process holds after a peak; the peak
/// is what it was. The arithmetic, and so every number, is the same; only where memory comes from changes.
///
/// How: glibc fixes its number of arenas when a second thread first allocates, long before .NET runs
/// any of our code, so in this process mallopt can only make it so for the main thread's arena (where
/// `smec` trains); other threads keep their own arenas, whose blocks beyond one arena heap (64 MiB) are
/// still mapped fresh (tests/Smec.Tests/PerformanceTests.fs measures this). Child processes (sweep
/// and reproduce workers, Slurm tasks, the bench's PyTorch side) get the whole setting from their start
/// through GLIBC_TUNABLES, which is written into the environment they inherit (as the OpenMP policy is).
/// Set GLIBC_TUNABLES with a glibc.malloc entry, or MALLOC_*_ variables, to keep glibc's own behaviour
/// or choose other values: a user's setting wins.
/// </summary>
public static class NativeHeap
{
    public const long TrimThresholdBytes = 1L << 30;

    // mallopt parameters from glibc's malloc.h.
    private const int MTrimThreshold = -1;
    private const int MMmapMax = -4;

    private static readonly object Gate = new();
    private static string? _state;
    private static bool _setByProgram;

    /// <summary>Whether this process runs with the settings above (false: the user's or the platform's).</summary>
    public static bool SetByProgram
    {
        get { Apply(); return _setByProgram; }
    }

    /// <summary>The setting as GLIBC_TUNABLES, which glibc reads when a process starts (what children inherit).</summary>
    public static string Tunables => $"glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold={TrimThresholdBytes}";

    public const string TunablesVariable = "GLIBC_TUNABLES";

    /// <summary>What this process's heap runs with, for `smec version` and the bench header.</summary>
    public static string Describe()
    {
        Apply();
        return _state!;
    }

    /// <summary>Idempotent; before the first large tensor (the module initializer calls it).</summary>
    public static void Apply()
    {
        lock (Gate)
        {
            if (_state is not null) return;
            _state = Configure();
        }
    }

    private static string Configure()
    {
        if (!OperatingSystem.IsLinux()) return "the platform's default allocator (thresholds are set on Linux with glibc only)";
        var tunables = Environment.GetEnvironmentVariable(TunablesVariable) ?? "";
        if (tunables.EndsWith(Tunables, StringComparison.Ordinal))
        {
            _setByProgram = true;
            return $"glibc malloc, one arena, no mmap, trim threshold {TrimThresholdBytes >> 20} MiB (the program's, from the start: {TunablesVariable} inherited)";
        }
        if (tunables.Contains("glibc.malloc.", StringComparison.Ordinal)
            || new[] { "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_" }.Any(v => Environment.GetEnvironmentVariable(v) is not null))
            return "glibc malloc as the environment sets it (GLIBC_TUNABLES or MALLOC_*_)";
        try
        {
            // mallopt returns 1 on success, 0 on error.
            if (mallopt(MMmapMax, 0) != 1 || mallopt(MTrimThreshold, (int)TrimThresholdBytes) != 1)
                return "glibc malloc's defaults (mallopt refused the settings)";
            _setByProgram = true;
            // Only .NET's copy of the environment: what Process.Start passes to children.
            Environment.SetEnvironmentVariable(TunablesVariable, tunables.Length == 0 ? Tunables : tunables + ":" + Tunables);
            return $"glibc malloc, no mmap, trim threshold {TrimThresholdBytes >> 20} MiB on the main thread; children start with {TunablesVariable}={Tunables} (the program's; set {TunablesVariable}=glibc.malloc.* to override)";
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return "the C library's default allocator (no mallopt: not glibc)";
        }
    }

    [DllImport("libc")]
    private static extern int mallopt(int parameter, int value);
}
