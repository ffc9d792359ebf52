using System.Text.RegularExpressions;
using Smec.Core.Runtime;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Smec.Core.Data.Manifests;

/// <summary>
/// Reads one manifest YAML file into its typed form and validates it; every problem is a
/// <see cref="ManifestException"/> naming the file and the field.
/// </summary>
public static partial class ManifestReader
{
    private static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    public static readonly string[] DatasetKinds = ["text-retrieval", "image-classification", "image-captions"];
    public static readonly string[] EncoderKinds = ["onnx-bert", "onnx-resnet18", "precomputed"];
    public static readonly string[] Modalities = ["text", "image", "multimodal"];

    /// <summary>Format -> (dataset kind, roles its loader requires, roles it accepts).</summary>
    private static readonly Dictionary<string, (string Kind, string[] Required, string[] Allowed)> Formats = new()
    {
        ["beir"] = ("text-retrieval", ["corpus", "queries", "qrels"], ["corpus", "queries", "qrels"]),
        ["cranfield"] = ("text-retrieval", ["corpus", "queries", "qrels"], ["corpus", "queries", "qrels", "readme"]),
        ["cacm"] = ("text-retrieval", ["corpus", "queries", "qrels"], ["corpus", "queries", "qrels", "readme"]),
        ["idx"] = ("image-classification", ["train-images", "train-labels", "test-images", "test-labels"],
                   ["train-images", "train-labels", "test-images", "test-labels"]),
        ["jpeg-tar"] = ("image-classification", ["archive"], ["archive"]),
        ["cifar-binary"] = ("image-classification", ["train-batch", "test-batch"], ["train-batch", "test-batch", "readme"]),
        ["flickr-captions"] = ("image-captions", ["archive", "captions"], ["archive", "captions"]),
        ["external"] = ("", [], []),
    };

    public static DatasetManifest ReadDataset(string file)
    {
        var m = Deserialize<DatasetManifest>(file);
        m.ManifestFile = file;
        ValidateDataset(m);
        return m;
    }

    public static EncoderManifest ReadEncoder(string file)
    {
        var m = Deserialize<EncoderManifest>(file);
        m.ManifestFile = file;
        ValidateEncoder(m);
        return m;
    }

    public static EmbeddingManifest ReadEmbedding(string file)
    {
        var m = Deserialize<EmbeddingManifest>(file);
        m.ManifestFile = file;
        ValidateEmbedding(m);
        return m;
    }

    private static T Deserialize<T>(string file) where T : new()
    {
        string text;
        try { text = File.ReadAllText(file); }
        catch (IOException e) { throw new ManifestException(file, "(file)", $"cannot be read: {e.Message}", e); }
        YamlInput.Load(file, text); // syntax errors: file, line and column, like every YAML the harness reads
        try
        {
            return Yaml.Deserialize<T>(text) ?? throw new ManifestException(file, "(document)", "the file is empty");
        }
        catch (YamlException e)
        {
            var inner = e.InnerException?.Message ?? e.Message;
            var unknown = UnknownProperty().Match(e.Message + " " + inner);
            var field = unknown.Success ? unknown.Groups[1].Value : "(yaml)";
            var problem = unknown.Success
                ? $"line {e.Start.Line}: unknown field (see data-manifests/README.md for the schema)"
                : $"line {e.Start.Line}, column {e.Start.Column}: {inner}";
            throw new ManifestException(file, field, problem, e);
        }
    }

    [GeneratedRegex("Property '([^']+)' not found")]
    private static partial Regex UnknownProperty();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Hex();

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex Md5Hex();

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]*$", RegexOptions.IgnoreCase)]
    private static partial Regex IdPattern();

    private static void ValidateDataset(DatasetManifest m)
    {
        var f = m.ManifestFile;
        RequireId(f, m.Id);
        Require(f, "title", m.Title);
        RequireOneOf(f, "kind", m.Kind, DatasetKinds);
        RequireOneOf(f, "format", m.Format, Formats.Keys.ToArray());
        var (formatKind, required, allowed) = Formats[m.Format];
        if (formatKind != "" && formatKind != m.Kind)
            throw new ManifestException(f, "format", $"format '{m.Format}' holds {formatKind} data, but kind is '{m.Kind}'");
        RequireRelativePath(f, "path", m.Path);
        if (m.Split is { } split)
        {
            RequireOneOf(f, "split.rule", split.Rule, [SplitSpec.GivenTrainTest, SplitSpec.QueryHalves, SplitSpec.KFold]);
            if (split.Folds < 2)
                throw new ManifestException(f, "split.folds", $"must be at least 2 folds, got {split.Folds}");
            // k-fold may leave validation out (SplitRules' default minimum); the other rules state it.
            if (split.Validation < (split.Rule == SplitSpec.KFold ? 0 : 1))
                throw new ManifestException(f, "split.validation", $"must be a positive number of validation queries, got {split.Validation}");
            if (m.Kind != "text-retrieval")
                throw new ManifestException(f, "split", $"a split rule is for text-retrieval collections; this one is {m.Kind}");
            if (split.Rule == SplitSpec.GivenTrainTest && !m.Files.Any(x => x.Role == "qrels" && x.Split == "train"))
                throw new ManifestException(f, "split.rule", "given-train-test needs the collection's train judgements: a qrels file with split: train in files");
        }
        foreach (var (p, i) in m.SystemPaths.Select((p, i) => (p, i)))
            if (!System.IO.Path.IsPathRooted(p)) throw new ManifestException(f, $"system_paths[{i}]", $"'{p}' must be an absolute folder");
        for (var i = 0; i < m.Files.Count; i++)
        {
            var file = m.Files[i];
            var at = $"files[{i}]";
            RequireRelativePath(f, $"{at}.path", file.Path);
            RequireOneOf(f, $"{at}.role", file.Role, allowed);
            if (file.Role == "qrels" && string.IsNullOrWhiteSpace(file.Split))
                throw new ManifestException(f, $"{at}.split", "a qrels file must name the split it judges");
            if (file.Sha256 != null && !Sha256Hex().IsMatch(file.Sha256))
                throw new ManifestException(f, $"{at}.sha256", $"'{file.Sha256}' is not 64 lower-case hex digits");
            if (file.Sha256 == null && m.Mirrored)
                throw new ManifestException(f, $"{at}.sha256", "required for a mirrored dataset (take it from SHA256SUMS)");
            if (file.UpstreamMd5 != null && !Md5Hex().IsMatch(file.UpstreamMd5))
                throw new ManifestException(f, $"{at}.upstream_md5", $"'{file.UpstreamMd5}' is not 32 lower-case hex digits");
        }
        var duplicate = m.Files.GroupBy(x => x.Path).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new ManifestException(f, "files", $"'{duplicate.Key}' is listed twice");
        foreach (var role in required)
            if (!m.Files.Any(x => x.Role == role))
                throw new ManifestException(f, "files", $"format '{m.Format}' needs a file with role '{role}'");
        Require(f, "source.instructions", m.Source.Instructions);
        for (var i = 0; i < m.Source.Downloads.Count; i++)
        {
            var d = m.Source.Downloads[i];
            var at = $"source.downloads[{i}]";
            if (!Uri.TryCreate(d.Url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                throw new ManifestException(f, $"{at}.url", $"'{d.Url}' is not an http(s) URL");
            RequireOneOf(f, $"{at}.archive", d.Archive, ["zip", "tar.gz", "file"]);
            if (d.Archive == "file") RequireRelativePath(f, $"{at}.target", d.Target ?? "");
            if (d.Md5 != null && !Md5Hex().IsMatch(d.Md5))
                throw new ManifestException(f, $"{at}.md5", $"'{d.Md5}' is not 32 lower-case hex digits");
            if (d.Sha256 != null && !Sha256Hex().IsMatch(d.Sha256))
                throw new ManifestException(f, $"{at}.sha256", $"'{d.Sha256}' is not 64 lower-case hex digits");
            if (d.Size is <= 0)
                throw new ManifestException(f, $"{at}.size", $"{d.Size} is not a positive number of bytes");
            // A download is verified before it is used: by a published checksum, or else by the counts.
            if (d.Md5 == null && d.Sha256 == null && !HasCounts(m))
                throw new ManifestException(f, $"{at}", "names neither a published checksum (md5, sha256) nor counts that verify the download");
        }
        if (m.Mirrored && m.Counts == null)
            throw new ManifestException(f, "counts", "required for a mirrored dataset");
        if (m.Counts != null) ValidateCounts(f, m);
        if (m.RelevanceMap != null)
            foreach (var key in m.RelevanceMap.Keys)
                if (!int.TryParse(key, out _)) throw new ManifestException(f, $"relevance_map.{key}", "keys are the raw integer qrels values");
        Require(f, "licence", m.Licence);
        Require(f, "citation", m.Citation);
    }

    /// <summary>True when the manifest gives counts a loader checks (so a download can be verified by them).</summary>
    public static bool HasCounts(DatasetManifest m) =>
        m.Counts is { } c && (c.Docs != null || c.Queries != null || c.Images != null || c.Captions != null || c.Classes != null
                               || c.Splits.Values.Any(s => s.Queries != null || s.Qrels != null || s.Images != null));

    private static void ValidateCounts(string f, DatasetManifest m)
    {
        var c = m.Counts!;
        void Positive(string field, int? value)
        {
            if (value is <= 0) throw new ManifestException(f, $"counts.{field}", $"must be positive, got {value}");
        }
        Positive("docs", c.Docs);
        Positive("queries", c.Queries);
        Positive("judged_queries", c.JudgedQueries);
        Positive("classes", c.Classes);
        Positive("images", c.Images);
        Positive("captions", c.Captions);
        Positive("captions_per_image", c.CaptionsPerImage);
        foreach (var (split, counts) in c.Splits)
        {
            Positive($"splits.{split}.queries", counts.Queries);
            Positive($"splits.{split}.qrels", counts.Qrels);
            Positive($"splits.{split}.images", counts.Images);
            if (m.Format == "beir" && !m.Files.Any(x => x.Role == "qrels" && x.Split == split))
                throw new ManifestException(f, $"counts.splits.{split}", $"no qrels file with split '{split}' in files");
        }
        if (c.Classes != null && m.Classes.Count > 0 && m.Classes.Count != c.Classes)
            throw new ManifestException(f, "classes", $"{m.Classes.Count} class names, but counts.classes is {c.Classes}");
        if (m.Kind == "image-classification" && m.Format != "external" && m.Classes.Count == 0)
            throw new ManifestException(f, "classes", "an image-classification dataset lists its class names in label order");
    }

    private static void ValidateEncoder(EncoderManifest m)
    {
        var f = m.ManifestFile;
        RequireId(f, m.Id);
        Require(f, "title", m.Title);
        RequireOneOf(f, "kind", m.Kind, EncoderKinds);
        RequireOneOf(f, "modality", m.Modality, Modalities);
        if (m.Dim <= 0) throw new ManifestException(f, "dim", $"must be positive, got {m.Dim}");
        var s = m.Settings;
        switch (m.Kind)
        {
            case "onnx-bert":
                if (m.Modality != "text") throw new ManifestException(f, "modality", "an onnx-bert encoder is a text encoder");
                Require(f, "source.resource", m.Source.Resource);
                Require(f, "source.vocab_resource", m.Source.VocabResource);
                RequireOneOf(f, "settings.pooling", s.Pooling ?? "", ["mean", "cls"]);
                if (s.MaxTokens is null or < 3) throw new ManifestException(f, "settings.max_tokens", "needs a token budget of at least 3 (it includes [CLS] and [SEP])");
                if (s.Lowercase == null) throw new ManifestException(f, "settings.lowercase", "say whether the tokenizer lower-cases (true for uncased BERT vocabularies)");
                if (s.DocumentJoin == null) throw new ManifestException(f, "settings.document_join", "say what joins a document's title and text (e.g. \" \")");
                break;
            case "onnx-resnet18":
                if (m.Modality != "image") throw new ManifestException(f, "modality", "an onnx-resnet18 encoder is an image encoder");
                Require(f, "source.model_file", m.Source.ModelFile);
                Require(f, "source.preprocess_file", m.Source.PreprocessFile);
                if (s.ImageSize is null or <= 0) throw new ManifestException(f, "settings.image_size", "needs the input side in pixels (224 for ResNet18)");
                RequireOneOf(f, "settings.resize", s.Resize ?? "", ["bilinear"]);
                break;
            case "precomputed":
                Require(f, "source.instructions", m.Source.Instructions);
                break;
        }
        Require(f, "licence", m.Licence);
        Require(f, "citation", m.Citation);
    }

    private static void ValidateEmbedding(EmbeddingManifest m)
    {
        var f = m.ManifestFile;
        Require(f, "dataset", m.Dataset);
        Require(f, "encoder", m.Encoder);
        RequireRelativePath(f, "path", m.Path);
        if (m.DatasetFiles.Count == 0) throw new ManifestException(f, "dataset_files", "list the dataset files (path: sha256) the embeddings were computed from");
        foreach (var (path, sha) in m.DatasetFiles)
            if (!Sha256Hex().IsMatch(sha)) throw new ManifestException(f, $"dataset_files.{path}", $"'{sha}' is not 64 lower-case hex digits");
        if (m.Parts.Count == 0) throw new ManifestException(f, "parts", "no parts (corpus, queries, ...) listed");
        foreach (var (name, part) in m.Parts)
        {
            if (part.Rows <= 0) throw new ManifestException(f, $"parts.{name}.rows", "must be positive");
            if (part.Dim <= 0) throw new ManifestException(f, $"parts.{name}.dim", "must be positive");
            foreach (var (field, file) in new[] { ("npy", part.Npy), ("ids", part.Ids) })
            {
                RequireRelativePath(f, $"parts.{name}.{field}.path", file.Path);
                if (!Sha256Hex().IsMatch(file.Sha256))
                    throw new ManifestException(f, $"parts.{name}.{field}.sha256", $"'{file.Sha256}' is not 64 lower-case hex digits");
            }
        }
        Require(f, "licence", m.Licence);
    }

    private static void RequireId(string file, string id)
    {
        Require(file, "id", id);
        if (!IdPattern().IsMatch(id)) throw new ManifestException(file, "id", $"'{id}' may hold only letters, digits, '.' and '-'");
        var stem = System.IO.Path.GetFileNameWithoutExtension(file);
        if (stem != id) throw new ManifestException(file, "id", $"'{id}' must equal the file name '{stem}'");
    }

    private static void Require(string file, string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new ManifestException(file, field, "is required and empty");
    }

    private static void RequireOneOf(string file, string field, string value, string[] allowed)
    {
        if (!allowed.Contains(value))
            throw new ManifestException(file, field, $"'{value}' is not one of: {string.Join(", ", allowed)}");
    }

    private static void RequireRelativePath(string file, string field, string value)
    {
        Require(file, field, value);
        if (System.IO.Path.IsPathRooted(value) || value.Split('/', '\\').Contains(".."))
            throw new ManifestException(file, field, $"'{value}' must be a relative path inside the data root");
    }
}
