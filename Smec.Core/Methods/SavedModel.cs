using System.Text.Json;
using System.Text.Json.Nodes;
using Smec.Core.Data;
using Smec.Core.Storage;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods;

/// <summary>
/// The one on-disk form of a fitted compressor, whatever the method: a folder holding
/// <c>model.json</c> (format, the method's kind and display name, dims, settings, the method's own
/// configuration as JSON, the tensor names and the SHA-256 of the tensor file) and <c>tensors.bin</c>
/// (named tensors, <see cref="TensorIO"/>). The tensors are written first and the manifest last,
/// both atomically, so a folder with a manifest is complete. <see cref="Load"/> reads any of them.
/// </summary>
public static class SavedModel
{
    public const string ManifestFile = "model.json", TensorsFile = "tensors.bin", Format = "smec-saved-model/1";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Write a fitted compressor: its configuration (what loading needs besides tensors) and its tensors.</summary>
    public static void Write(string directory, string kind, ICompressor compressor, JsonObject? config,
        IEnumerable<(string Name, Tensor Value)> tensors)
    {
        Directory.CreateDirectory(directory);
        var names = new List<string>();
        var tensorsPath = Path.Combine(directory, TensorsFile);
        var list = tensors.ToList();
        AtomicFile.WriteBinary(tensorsPath, w =>
        {
            w.Write(Format);
            w.Write(list.Count);
            foreach (var (name, value) in list)
            {
                TensorIO.Write(w, name, value);
                names.Add(name);
            }
        });
        var manifest = new JsonObject
        {
            ["format"] = Format,
            ["kind"] = kind,
            ["name"] = compressor.Name,
            ["dims"] = new JsonArray(compressor.Dims.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
            ["settings"] = new JsonObject(compressor.Settings.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
            ["config"] = config ?? new JsonObject(),
            ["tensors"] = new JsonArray(names.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
            ["tensors_sha256"] = FileChecksums.Sha256(tensorsPath),
        };
        AtomicFile.WriteAllText(Path.Combine(directory, ManifestFile), manifest.ToJsonString(Indented));
        // Every saved model is sealed (model.json's settings are trusted only under the seal); `smec
        // train --out` seals again with the training data's identity and the full settings.
        ModelSeal.Write(directory, new Dictionary<string, string>(), new Dictionary<string, string>());
    }

    /// <summary>Open a saved folder and check it (format, tensor checksum), without building the method.</summary>
    public static SavedModelReader Open(string directory) => new(directory);

    /// <summary>Load whatever compressor the folder holds, with the loader of its kind. The loaders
    /// come from the method registry (Smec.Experiments, Methods/MethodRegistry.fs): each method's
    /// entry names its saved-model kind and loader, so a method defined in a script loads like a built-in one.</summary>
    public static ICompressor Load(string directory, IReadOnlyDictionary<string, Func<SavedModelReader, ICompressor>> loaders)
    {
        // A seal is checked first (it covers model.json too); a folder without one is refused below,
        // after the format check, so an old folder still gets its own message.
        var isSealed = ModelSeal.Verify(directory);
        using var reader = Open(directory);
        if (!loaders.TryGetValue(reader.Kind, out var load))
            throw new InvalidDataException($"{reader.ManifestPath}: kind '{reader.Kind}' is not known here (known: {string.Join(", ", loaders.Keys.Order())}); give the method's registry entry its saved-model kind and loader");
        if (!isSealed)
            throw new InvalidDataException(
                $"{Path.Combine(directory, ModelSeal.FileName)}: missing, so {ManifestFile} and {TensorsFile} cannot be checked against what was saved " +
                "(an edited model.json changes the output silently); expected the seal every save writes: save or train the model again");
        return load(reader);
    }
}

/// <summary>A saved model's manifest and tensors, with errors that name the file and the field.</summary>
public sealed class SavedModelReader : IDisposable
{
    private readonly JsonObject _manifest;
    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);

    public string Directory { get; }
    public string ManifestPath { get; }
    public string Kind { get; }
    public string Name { get; }
    public int[] Dims { get; }
    public IReadOnlyDictionary<string, string> Settings { get; }
    public JsonObject Config { get; }

    internal SavedModelReader(string directory)
    {
        Directory = directory;
        ManifestPath = Path.Combine(directory, SavedModel.ManifestFile);
        if (!File.Exists(ManifestPath))
        {
            var legacy = File.Exists(Path.Combine(directory, "config.json")) || File.Exists(Path.Combine(directory, "compressor.json"));
            throw new FileNotFoundException(legacy
                ? $"{directory}: a model saved by an older version (config.json / compressor.json); save it again with this version (expected {SavedModel.ManifestFile} and {SavedModel.TensorsFile})"
                : $"{ManifestPath}: no saved model here (expected {SavedModel.ManifestFile} and {SavedModel.TensorsFile})", ManifestPath);
        }
        try { _manifest = JsonNode.Parse(File.ReadAllText(ManifestPath)) as JsonObject ?? throw new InvalidDataException($"{ManifestPath}: expected a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{ManifestPath}: not valid JSON: {e.Message}", e); }
        var format = Field("format").GetValue<string>();
        if (format != SavedModel.Format) throw new InvalidDataException($"{ManifestPath}: format '{format}', expected '{SavedModel.Format}'");
        Kind = Field("kind").GetValue<string>();
        Name = Field("name").GetValue<string>();
        Dims = Field("dims").AsArray().Select(n => n!.GetValue<int>()).ToArray();
        Settings = Field("settings").AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>());
        Config = Field("config").AsObject();
        var tensorsPath = Path.Combine(directory, SavedModel.TensorsFile);
        if (!File.Exists(tensorsPath)) throw new FileNotFoundException($"{tensorsPath}: missing (the manifest {ManifestPath} lists its tensors)", tensorsPath);
        var expected = Field("tensors_sha256").GetValue<string>();
        var actual = FileChecksums.Sha256(tensorsPath);
        if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{tensorsPath}: SHA-256 {actual} differs from {expected} recorded in {SavedModel.ManifestFile} (changed or truncated)");
        using var stream = File.OpenRead(tensorsPath);
        using var reader = new BinaryReader(stream);
        if (reader.ReadString() != SavedModel.Format) throw new InvalidDataException($"{tensorsPath}: not a {SavedModel.Format} tensor file");
        var names = Field("tensors").AsArray().Select(n => n!.GetValue<string>()).ToArray();
        var count = reader.ReadInt32();
        if (count != names.Length) throw new InvalidDataException($"{tensorsPath}: {count} tensors, the manifest lists {names.Length}");
        foreach (var name in names) _tensors[name] = TensorIO.Read(reader, name, tensorsPath);
    }

    private JsonNode Field(string name) =>
        _manifest[name] ?? throw new InvalidDataException($"{ManifestPath}: field '{name}' is missing");

    /// <summary>The kind must be <paramref name="kind"/> (a loader called on the wrong folder).</summary>
    public SavedModelReader Expect(string kind) =>
        Kind == kind ? this : throw new InvalidDataException($"{ManifestPath}: holds a '{Kind}' model ('{Name}'), expected '{kind}'");

    /// <summary>A required value of the method's configuration, parsed from JSON.</summary>
    public T Get<T>(string key)
    {
        var node = Config[key] ?? throw new InvalidDataException($"{ManifestPath}: config field '{key}' is missing");
        try { return node.Deserialize<T>(ConfigJson) ?? throw new InvalidDataException($"{ManifestPath}: config field '{key}' is null"); }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{ManifestPath}: config field '{key}' = {node.ToJsonString()} is not a {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>An optional value of the method's configuration (a field added after models were
    /// saved without it): <paramref name="fallback"/> when absent, else parsed as <see cref="Get{T}"/>.</summary>
    public T GetOr<T>(string key, T fallback) => Config[key] is null ? fallback : Get<T>(key);

    internal static readonly JsonSerializerOptions ConfigJson = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>A copy of a stored tensor, owned by the caller (the reader disposes its own).</summary>
    public Tensor Tensor(string name) => Stored(name).clone();

    private Tensor Stored(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"{ManifestPath}: tensor '{name}' is not stored");

    /// <summary>Copy the stored tensors named prefix + state-dict key into a module's parameters and buffers.</summary>
    public void ReadInto(TorchSharp.torch.nn.Module module, string prefix)
    {
        using var _ = no_grad();
        foreach (var (key, target) in module.state_dict())
        {
            var stored = Stored(prefix + key);
            if (!stored.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"{ManifestPath}: tensor '{prefix + key}' has shape [{string.Join(",", stored.shape)}], the model needs [{string.Join(",", target.shape)}]");
            target.copy_(stored);
        }
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }

    /// <summary>A module's parameters and buffers under prefix + key, for <see cref="SavedModel.Write"/>.</summary>
    public static IEnumerable<(string Name, Tensor Value)> StateOf(TorchSharp.torch.nn.Module module, string prefix) =>
        module.state_dict().Select(kv => (prefix + kv.Key, kv.Value));
}
