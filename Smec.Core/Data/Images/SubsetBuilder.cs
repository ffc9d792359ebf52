using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Smec.Core.Data.Manifests;
using Smec.Core.Storage;

namespace Smec.Core.Data.Images;

/// <summary>
/// `smec data build &lt;id&gt; --from DIR`: makes a captioned-image subset (Flickr8k-1k) from a
/// user's copy of the full source, following the manifest's <c>build</c> section: the listed
/// images in order, their captions, packed as images.tar.gz (images/&lt;name&gt;, names in
/// manifest order, mtime 0) and captions.txt (CSV image,caption). Written to a temporary folder,
/// checked against the manifest's counts, then renamed into place.
/// </summary>
public static class SubsetBuilder
{
    private static readonly string[] ImageFolders = ["Images", "Flicker8k_Dataset", "Flickr8k_Dataset", "."];

    /// <summary>Builds into &lt;dataRoot&gt;/&lt;manifest.Path&gt;; returns the folder and its data identity.</summary>
    public static (string Folder, DataIdentity Identity) Build(DatasetManifest manifest, string sourceDir, string dataRoot)
    {
        var build = manifest.Build ?? throw new ArgumentException($"dataset '{manifest.Id}' has no build section in {manifest.ManifestFile}: it cannot be built from a source copy");
        if (manifest.Format != "flickr-captions")
            throw new ArgumentException($"dataset '{manifest.Id}': building is implemented for the flickr-captions format, not '{manifest.Format}'");
        if (!Directory.Exists(sourceDir)) throw new DirectoryNotFoundException($"{sourceDir}: no such folder (--from)");
        var captions = ReadCaptions(sourceDir);
        var imageDir = ImageFolders.Select(f => Path.GetFullPath(Path.Combine(sourceDir, f)))
            .FirstOrDefault(d => Directory.Exists(d) && File.Exists(Path.Combine(d, build.Images[0])))
            ?? throw new DataUnavailableException(
                $"{sourceDir}: no image '{build.Images[0]}' in {string.Join(", ", ImageFolders.Select(f => Path.Combine(sourceDir, f)))}. " +
                $"Rule ({manifest.ManifestFile}): {build.Rule.Trim()}");
        var missing = build.Images.Where(n => !File.Exists(Path.Combine(imageDir, n))).ToList();
        if (missing.Count > 0)
            throw new DataUnavailableException($"{imageDir}: {missing.Count} of the {build.Images.Count} images are missing (first: {missing[0]}); is this a complete Flickr8k copy?");
        var uncaptioned = build.Images.Where(n => !captions.ContainsKey(n)).ToList();
        if (uncaptioned.Count > 0)
            throw new DataUnavailableException($"{sourceDir}: no captions for {uncaptioned.Count} image(s) (first: {uncaptioned[0]})");

        var target = Path.Combine(Path.GetFullPath(dataRoot), manifest.Path);
        AtomicFolder.Write(target, staging =>
        {
            var csv = new StringBuilder("image,caption\n");
            foreach (var name in build.Images)
                foreach (var caption in captions[name])
                    csv.Append(name).Append(',').Append(CsvField(caption)).Append('\n');
            AtomicFile.WriteAllText(Path.Combine(staging, manifest.FileWithRole("captions").Path), csv.ToString());
            using (var gz = new GZipStream(File.Create(Path.Combine(staging, manifest.FileWithRole("archive").Path)), CompressionLevel.Optimal))
            using (var tar = new TarWriter(gz, TarEntryFormat.Ustar, leaveOpen: false))
                foreach (var name in build.Images)
                {
                    var entry = new UstarTarEntry(TarEntryType.RegularFile, "images/" + name)
                    {
                        ModificationTime = DateTimeOffset.UnixEpoch,
                        Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                        DataStream = File.OpenRead(Path.Combine(imageDir, name)),
                    };
                    tar.WriteEntry(entry);
                    entry.DataStream.Dispose();
                }
            DatasetLoader.CheckFolder(manifest, staging);
        });
        return (target, DataIdentity.Of(manifest, target));
    }

    /// <summary>Image name -> captions in source order, from captions.txt (Kaggle) or Flickr8k.token.txt (official).</summary>
    private static Dictionary<string, List<string>> ReadCaptions(string sourceDir)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string image, string caption)
        {
            if (!result.TryGetValue(image, out var list)) result[image] = list = [];
            list.Add(caption);
        }
        var kaggle = Path.Combine(sourceDir, "captions.txt");
        var official = Path.Combine(sourceDir, "Flickr8k.token.txt");
        if (File.Exists(kaggle))
        {
            var lineNumber = 0;
            foreach (var line in File.ReadLines(kaggle))
            {
                lineNumber++;
                if (lineNumber == 1 || line.Length == 0) continue;
                var fields = Csv.SplitLine(line, kaggle, lineNumber);
                if (fields.Count != 2) throw new DataVerificationException($"{kaggle}:{lineNumber}: expected 'image,caption', got {fields.Count} fields");
                Add(fields[0], fields[1]);
            }
        }
        else if (File.Exists(official))
        {
            var lineNumber = 0;
            foreach (var line in File.ReadLines(official))
            {
                lineNumber++;
                if (line.Length == 0) continue;
                var tab = line.IndexOf('\t');
                var hash = line.IndexOf('#');
                if (tab < 0 || hash < 0 || hash > tab) throw new DataVerificationException($"{official}:{lineNumber}: expected 'name.jpg#N<TAB>caption'");
                Add(line[..hash], line[(tab + 1)..]);
            }
        }
        else
            throw new DataUnavailableException($"{sourceDir}: neither captions.txt (Kaggle CSV) nor Flickr8k.token.txt (official) is here");
        return result;
    }

    private static string CsvField(string text) =>
        text.Contains(',') || text.Contains('"') ? "\"" + text.Replace("\"", "\"\"") + "\"" : text;
}
