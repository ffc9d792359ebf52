using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Smec.Core.Runtime;

/// <summary>
/// Loads libtorch once per process and turns TorchSharp's misleading load failure
/// ("libtorch is not referenced") into a message that says what actually went wrong.
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialized;

    public static string Backend =>
        typeof(TorchRuntime).Assembly.GetCustomAttribute<TorchBackendAttribute>()?.Backend ?? "cpu";

    public static torch.Device Device => Backend == "cuda" && torch.cuda.is_available() ? torch.CUDA : torch.CPU;

    /// <summary>Initialise libtorch for the built backend, or throw <see cref="TorchLoadException"/>.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_initialized) return;
            OpenMpEnvironment.Apply(); // before libgomp loads: it reads OMP_* only then
            try
            {
                torch.InitializeDeviceType(Backend == "cuda" ? DeviceType.CUDA : DeviceType.CPU);
                _initialized = true;
            }
            catch (Exception e) when (e is not TorchLoadException)
            {
                throw new TorchLoadException(Diagnose(e), e);
            }
        }
    }

    /// <summary>Try to dlopen TorchSharp's glue library ourselves to get the loader's real error.</summary>
    private static string Diagnose(Exception original)
    {
        var dir = AppContext.BaseDirectory;
        var glue = Path.Combine(dir, "libLibTorchSharp.so");
        if (!File.Exists(glue))
            return $"TorchSharp's native library was not found next to the program ({glue}). " +
                   "Build through the project (`make build`), which copies libtorch for the selected backend " +
                   $"(TorchBackend={Backend}). TorchSharp said: {original.Message}";
        string loaderError;
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(glue));
            loaderError = "the glue library loads on its own, so libtorch itself failed: " + original.Message;
        }
        catch (Exception e)
        {
            loaderError = e.Message;
        }
        var hint = loaderError.Contains("GLIBCXX_3.4.32")
            ? "This copy of libLibTorchSharp.so was not patched for Debian 12's libstdc++ (GLIBCXX 3.4.30). " +
              "The build patches the copy in bin/ automatically (build/PatchGlibcxx.targets); rebuild with " +
              "`make build`, and do not load TorchSharp straight from the NuGet cache."
            : "Check that libtorch for the selected backend is in the build output and that the machine " +
              "meets libtorch's requirements (glibc >= 2.28, x86_64).";
        return $"libtorch could not be loaded from {dir}: {loaderError}. {hint}";
    }
}

/// <summary>libtorch could not be loaded; the message says why and what to do.</summary>
public sealed class TorchLoadException(string message, Exception inner) : Exception(message, inner);
