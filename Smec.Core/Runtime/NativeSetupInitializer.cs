using System.Runtime.CompilerServices;

namespace Smec.Core.Runtime;

/// <summary>
/// The process-wide native settings libtorch must find in place before it loads or allocates: the
/// OpenMP wait policy (<see cref="OpenMpEnvironment"/>) and the heap (<see cref="NativeHeap"/>).
/// </summary>
internal static class NativeSetupInitializer
{
    /// <summary>Runs when Smec.Core is first touched, normally long before anything loads libtorch (or allocates a tensor).</summary>
    // CA2255 warns libraries off module initializers; this one only sets environment variables and the heap's settings, and it
    // must run before any caller (a notebook, a script, a test) reaches TorchSharp through Smec.Core.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        OpenMpEnvironment.Apply();
        NativeHeap.Apply();
    }
}
