using System.Reflection;

namespace Smec.Core.Encoders;

/// <summary>Reads a model or vocabulary that a NuGet package's assembly carries as a manifest resource.</summary>
public static class EmbeddedModel
{
    public static Stream Open(string assemblyName, string resourceName)
    {
        Assembly assembly;
        try { assembly = Assembly.Load(new AssemblyName(assemblyName)); }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new FileNotFoundException(
                $"assembly '{assemblyName}' (from the NuGet package of the same name) is not next to the program; " +
                "it is referenced by Smec.Core, so rebuild with `make build`", e);
        }
        return assembly.GetManifestResourceStream(resourceName)
            ?? throw new FileNotFoundException(
                $"assembly '{assemblyName}' has no resource '{resourceName}'; it has: {string.Join(", ", assembly.GetManifestResourceNames())}");
    }

    public static byte[] ReadAll(string assemblyName, string resourceName)
    {
        using var stream = Open(assemblyName, resourceName);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
