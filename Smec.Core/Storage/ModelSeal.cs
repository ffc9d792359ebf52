using Smec.Core.Data;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Smec.Core.Storage;

/// <summary>
/// <c>seal.json</c> in a saved model's folder: the SHA-256 of every file saved there, the identity of
/// the training data (its checksums) and the full settings. <see cref="Verify"/> re-hashes the files
/// before a load, so a corrupt or edited weights file is an error rather than a silently wrong model.
/// </summary>
public static class ModelSeal
{
    public const string FileName = "seal.json";

    /// <summary>Seal the files now in <paramref name="directory"/> (call right after saving the model).</summary>
    public static void Write(string directory, IReadOnlyDictionary<string, string> data, IReadOnlyDictionary<string, string> settings)
    {
        var files = new JsonObject();
        foreach (var file in Directory.EnumerateFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal))
            if (file is not null && file != FileName && !file.StartsWith('.')) files[file] = Sha256(Path.Combine(directory, file));
        JsonObject Map(IReadOnlyDictionary<string, string> map)
        {
            var o = new JsonObject();
            foreach (var (k, v) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal)) o[k] = v;
            return o;
        }
        var seal = new JsonObject { ["files"] = files, ["data"] = Map(data), ["settings"] = Map(settings) };
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), seal.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }

    /// <summary>
    /// Check every sealed file against its recorded SHA-256; returns false when the folder has no seal
    /// (a model saved before seals existed), throws InvalidDataException naming the file on a mismatch.
    /// </summary>
    public static bool Verify(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return false;
        JsonObject files;
        try { files = JsonNode.Parse(File.ReadAllText(path))!["files"]!.AsObject(); }
        catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException)
        { throw new InvalidDataException($"{path}: not a model seal ({e.Message}); expected the seal.json `smec train --out` writes", e); }
        foreach (var (file, recorded) in files)
        {
            var filePath = Path.Combine(directory, file);
            if (!File.Exists(filePath))
                throw new InvalidDataException($"{filePath}: missing; expected the file {path} records");
            var actual = Sha256(filePath);
            if (actual != recorded?.GetValue<string>())
                throw new InvalidDataException(
                    $"{filePath}: checksum {FileChecksums.Short(actual)} (SHA-256) differs from {(recorded is null ? "nothing" : FileChecksums.Short(recorded.GetValue<string>()))} recorded in {FileName} (corrupt or changed after saving); expected the bytes that were saved");
        }
        return true;
    }

    /// <summary>A file's checksum as a seal records it ("sha256:" and the hex digest).</summary>
    public static string Sha256(string path) => "sha256:" + Smec.Core.Data.FileChecksums.Sha256(path);
}
