using System.Runtime.InteropServices;

namespace Smec.Core.Runtime;

/// <summary>
/// Sets libtorch's OpenMP wait policy before libtorch (and its libgomp) is loaded.
///
/// Why: with the default policy libgomp's worker threads spin between parallel regions. When other
/// work shares the cores, the spinning threads and the other process take turns and a training run
/// slows 5-30x (docs/PERFORMANCE.md, "Busy machines"). With PASSIVE idle workers sleep at once; the arithmetic,
/// thread count and so every number are the same, only the waiting changes. The default here was
/// chosen from `bench/wait-policy.sh` measurements (the same section): PASSIVE costs little when
/// the machine is idle and saves most of the collapse when it is busy.
///
/// How: libgomp reads OMP_* once, when it is loaded, from the native environment. .NET's
/// Environment.SetEnvironmentVariable only updates the runtime's own copy on Linux, so the value is
/// written with libc setenv (for libtorch in this process) and into .NET's copy (so child processes
/// started with Process.Start, e.g. sweep workers, inherit it). A value the user set wins.
/// </summary>
public static class OpenMpEnvironment
{
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";
    public const string DefaultWaitPolicy = "PASSIVE";

    private static readonly object Gate = new();
    private static string? _policy;
    private static bool _fromUser;

    /// <summary>The wait policy in effect for this process and its children, and whether the user chose it.</summary>
    public static (string Policy, bool FromUser) WaitPolicy
    {
        get { Apply(); return (_policy!, _fromUser); }
    }

    /// <summary>Idempotent; must run before libtorch loads (TorchRuntime.EnsureLoaded and the module initializer call it).</summary>
    public static void Apply()
    {
        lock (Gate)
        {
            if (_policy is not null) return;
            var user = Environment.GetEnvironmentVariable(WaitPolicyVariable);
            if (!string.IsNullOrWhiteSpace(user))
            {
                _policy = user; _fromUser = true;
                return;
            }
            _policy = DefaultWaitPolicy;
            Environment.SetEnvironmentVariable(WaitPolicyVariable, DefaultWaitPolicy);
            if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
                SetNative(WaitPolicyVariable, DefaultWaitPolicy);
        }
    }

    /// <summary>The variable as the native environment (what libgomp reads) holds it.</summary>
    public static string? NativeValue(string name)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return Environment.GetEnvironmentVariable(name);
        var pointer = getenv(name);
        return pointer == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(pointer);
    }

    private static void SetNative(string name, string value)
    {
        if (setenv(name, value, 0) != 0)
            throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc")]
    private static extern IntPtr getenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
