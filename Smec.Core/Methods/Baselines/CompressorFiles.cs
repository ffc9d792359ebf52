using System.Text.Json;

namespace Smec.Core.Methods.Baselines;

/// <summary>What every saved baseline writes next to its weights: its name, dims and settings (compressor.json).</summary>
public sealed record CompressorManifest(string Name, int[] Dims, Dictionary<string, string> Settings);

/// <summary>Reads and writes <c>compressor.json</c>; the weights (if any) sit beside it as TorchSharp state dicts.</summary>
public static class CompressorFiles
{
    public const string ManifestFile = "compressor.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static void Write(string directory, ICompressor compressor)
    {
        Directory.CreateDirectory(directory);
        var manifest = new CompressorManifest(compressor.Name, compressor.Dims.ToArray(),
            new Dictionary<string, string>(compressor.Settings));
        File.WriteAllText(Path.Combine(directory, ManifestFile), JsonSerializer.Serialize(manifest, Json));
    }

    /// <summary>The manifest in <paramref name="directory"/>; it must name one of <paramref name="expectedNames"/>.</summary>
    public static CompressorManifest Read(string directory, params string[] expectedNames)
    {
        var path = Path.Combine(directory, ManifestFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no saved compressor here (expected {ManifestFile})", path);
        CompressorManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<CompressorManifest>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a compressor manifest: {e.Message}", e); }
        if (manifest is null || manifest.Name is null || manifest.Dims is null || manifest.Settings is null)
            throw new InvalidDataException($"{path}: expected fields Name, Dims and Settings");
        if (!expectedNames.Contains(manifest.Name))
            throw new InvalidDataException($"{path}: holds '{manifest.Name}', expected {string.Join(" or ", expectedNames.Select(n => $"'{n}'"))}");
        return manifest;
    }

    /// <summary>A required setting, with an error naming the file and the key when it is missing or malformed.</summary>
    public static T Setting<T>(CompressorManifest manifest, string directory, string key, Func<string, T> parse)
    {
        if (!manifest.Settings.TryGetValue(key, out var raw))
            throw new InvalidDataException($"{Path.Combine(directory, ManifestFile)}: setting '{key}' is missing");
        try { return parse(raw); }
        catch (FormatException e) { throw new InvalidDataException($"{Path.Combine(directory, ManifestFile)}: setting '{key}' = '{raw}' is malformed: {e.Message}", e); }
    }
}
