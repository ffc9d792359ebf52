using System.Reflection;
using TorchSharp;

namespace Smec.Core.Runtime;

/// <summary>Versions of the packages a result depends on, recorded with every run.</summary>
public static class BuildInfo
{
    public static string InformationalVersion(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Package name -> version, for the packages whose code computes results.</summary>
    public static IReadOnlyDictionary<string, string> PackageVersions()
    {
        var versions = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["Smec.Core"] = InformationalVersion(typeof(BuildInfo).Assembly),
            ["TorchSharp"] = InformationalVersion(typeof(torch).Assembly),
            ["libtorch-backend"] = TorchRuntime.Backend,
            [".NET"] = Environment.Version.ToString(),
        };
        foreach (var (name, probe) in new (string, string)[]
                 {
                     ("Microsoft.ML.OnnxRuntime", "Microsoft.ML.OnnxRuntime"),
                     ("Microsoft.ML.Tokenizers", "Microsoft.ML.Tokenizers"),
                 })
        {
            try { versions[name] = InformationalVersion(Assembly.Load(probe)); }
            catch (FileNotFoundException) { versions[name] = "not loaded"; }
        }
        return versions;
    }
}
