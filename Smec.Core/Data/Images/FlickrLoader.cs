using System.Globalization;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data.Images;

/// <summary>
/// Flickr8k-style data: captions.txt, a CSV with header <c>image,caption</c> (captions with
/// commas are double-quoted), and images.tar.gz holding <c>images/&lt;image&gt;</c>. Every
/// captioned image must be in the archive and every archived image captioned.
/// </summary>
public static class FlickrLoader
{
    public static CaptionedImageDataset Load(DatasetManifest manifest, string folder)
    {
        var captionsPath = Path.Combine(folder, manifest.FileWithRole("captions").Path);
        var archive = Path.Combine(folder, manifest.FileWithRole("archive").Path);
        var imageIds = new List<string>();
        var perImage = new Dictionary<string, int>(StringComparer.Ordinal);
        var captions = new List<ImageCaption>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(captionsPath))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var fields = Csv.SplitLine(line, captionsPath, lineNumber);
            if (lineNumber == 1)
            {
                if (fields is not ["image", "caption"])
                    throw new DataVerificationException($"{captionsPath}:1: expected the header 'image,caption', got '{line}'");
                continue;
            }
            if (fields.Count != 2 || fields[0].Length == 0)
                throw new DataVerificationException($"{captionsPath}:{lineNumber}: expected 'image,caption', got {fields.Count} fields: '{line}'");
            var image = fields[0];
            if (!perImage.TryGetValue(image, out var k)) imageIds.Add(image);
            perImage[image] = k + 1;
            captions.Add(new ImageCaption($"{image}#{k.ToString(CultureInfo.InvariantCulture)}", image, fields[1]));
        }
        var archived = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in TarGz.Names(archive))
            archived.Add(ImageName(archive, name));
        var missing = imageIds.FirstOrDefault(i => !archived.Contains(i));
        if (missing != null)
            throw new DataVerificationException($"{archive}: has no image '{missing}', which {captionsPath} captions");
        var uncaptioned = archived.FirstOrDefault(i => !perImage.ContainsKey(i));
        if (uncaptioned != null)
            throw new DataVerificationException($"{archive}: image '{uncaptioned}' has no caption in {captionsPath}");
        return new CaptionedImageDataset(manifest.Id, imageIds, captions, new Source(archive));
    }

    private static string ImageName(string archive, string member)
    {
        var parts = member.TrimStart('.', '/').Split('/');
        return parts.Length == 2 && parts[0] == "images" ? parts[1]
            : throw new DataVerificationException($"{archive}: member '{member}' is not laid out as images/<name>");
    }

    private sealed class Source(string archive) : IImageSource
    {
        public IEnumerable<(string Id, RgbImage Image)> Read(string split, Func<string, bool> wanted)
        {
            if (split != CaptionedImageDataset.ImagesSplit) throw new ArgumentException($"unknown split '{split}'", nameof(split));
            foreach (var (name, data) in TarGz.Entries(archive, n => wanted(ImageName(archive, n))))
                if (data != null)
                    yield return (ImageName(archive, name), RgbImage.Decode(data, $"{archive}:{name}"));
        }
    }
}

/// <summary>Splits one RFC 4180 CSV line (double-quoted fields, "" for a quote; no embedded newlines).</summary>
internal static class Csv
{
    public static List<string> SplitLine(string line, string path, int lineNumber)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var i = 0;
        while (true)
        {
            field.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new DataVerificationException($"{path}:{lineNumber}: unterminated quoted field");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',')
                    throw new DataVerificationException($"{path}:{lineNumber}: text after a closing quote at column {i + 1}");
            }
            else
            {
                while (i < line.Length && line[i] != ',') field.Append(line[i++]);
            }
            fields.Add(field.ToString());
            if (i >= line.Length) return fields;
            i++; // the comma
        }
    }
}
