using Smec.Core.Data.Manifests;

namespace Smec.Core.Data.Images;

/// <summary>
/// A class-labelled JPEG archive laid out as <c>&lt;split&gt;/&lt;class&gt;/NNNN.jpg</c> (CIFAR-10).
/// Listing reads tar headers only; images are decoded when a caller streams them. Ids are the
/// member paths without ".jpg" (e.g. <c>train/airplane/0000</c>).
/// </summary>
public static class JpegTarLoader
{
    public static ImageClassDataset Load(DatasetManifest manifest, string folder)
    {
        var archive = Path.Combine(folder, manifest.FileWithRole("archive").Path);
        var classIndex = manifest.Classes.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
        var splits = new Dictionary<string, List<LabeledImage>>(StringComparer.Ordinal);
        foreach (var name in TarGz.Names(archive))
        {
            var (split, className, id) = Parse(archive, name);
            if (!classIndex.TryGetValue(className, out var label))
                throw new DataVerificationException(
                    $"{archive}: member '{name}' is in class folder '{className}', which is not one of the manifest's classes ({string.Join(", ", manifest.Classes)})");
            if (!splits.TryGetValue(split, out var items)) splits[split] = items = [];
            items.Add(new LabeledImage(id, label));
        }
        return new ImageClassDataset(manifest.Id, manifest.Classes,
            splits.ToDictionary(p => p.Key, p => (IReadOnlyList<LabeledImage>)p.Value), new Source(archive));
    }

    private static (string Split, string ClassName, string Id) Parse(string archive, string name)
    {
        var parts = name.TrimStart('.', '/').Split('/');
        if (parts.Length != 3 || !parts[2].EndsWith(".jpg", StringComparison.OrdinalIgnoreCase))
            throw new DataVerificationException($"{archive}: member '{name}' is not laid out as <split>/<class>/<name>.jpg");
        return (parts[0], parts[1], $"{parts[0]}/{parts[1]}/{parts[2][..^4]}");
    }

    private sealed class Source(string archive) : IImageSource
    {
        public IEnumerable<(string Id, RgbImage Image)> Read(string split, Func<string, bool> wanted)
        {
            foreach (var (name, data) in TarGz.Entries(archive, n => Want(n, split, wanted)))
                if (data != null)
                    yield return (Parse(archive, name).Id, RgbImage.Decode(data, $"{archive}:{name}"));
        }

        private static bool Want(string name, string split, Func<string, bool> wanted)
        {
            var (s, _, id) = Parse("", name);
            return s == split && wanted(id);
        }
    }
}
