using Smec.Core.Data.Manifests;

namespace Smec.Core.Data.Images;

/// <summary>
/// CIFAR-10 as the authors distribute it in cifar-10-binary.tar.gz: data_batch_1..5.bin
/// (training) and test_batch.bin, each a run of 3,073-byte records: one label byte (0-9), then
/// the 32x32 image as 1,024 red, 1,024 green and 1,024 blue bytes, rows top to bottom. Ids are
/// <c>&lt;split&gt;/NNNNN</c>, the record's index over the split's batches in manifest order.
/// These are the original pixels (the mirror's copy is a lossy JPEG re-encoding of them).
/// </summary>
public static class CifarBinaryLoader
{
    public const int Side = 32;
    public const int RecordBytes = 1 + 3 * Side * Side;

    /// <summary>Manifest file role -> split.</summary>
    public static readonly IReadOnlyDictionary<string, string> Roles = new Dictionary<string, string>
    {
        ["train-batch"] = "train",
        ["test-batch"] = "test",
    };

    public static ImageClassDataset Load(DatasetManifest manifest, string folder)
    {
        var splits = new Dictionary<string, IReadOnlyList<LabeledImage>>();
        foreach (var (role, split) in Roles)
        {
            var items = new List<LabeledImage>();
            foreach (var file in manifest.FilesWithRole(role))
            {
                var path = Path.Combine(folder, file.Path);
                var length = new FileInfo(path).Length;
                if (length % RecordBytes != 0)
                    throw new DataVerificationException($"{path}: {length} bytes is not a whole number of {RecordBytes}-byte CIFAR records (truncated file?)");
                using var stream = File.OpenRead(path);
                var record = new byte[RecordBytes];
                for (var i = 0L; i < length / RecordBytes; i++)
                {
                    stream.ReadExactly(record);
                    if (record[0] >= manifest.Classes.Count)
                        throw new DataVerificationException($"{path}: record {i} has label {record[0]}, not below the {manifest.Classes.Count} classes");
                    items.Add(new LabeledImage(ImageId(split, items.Count), record[0]));
                }
            }
            splits[split] = items;
        }
        return new ImageClassDataset(manifest.Id, manifest.Classes, splits, new Source(manifest, folder));
    }

    public static string ImageId(string split, int index) => $"{split}/{index:D5}";

    /// <summary>One record's planes (R, G, B) as interleaved RGB.</summary>
    public static RgbImage ToImage(ReadOnlySpan<byte> record)
    {
        const int plane = Side * Side;
        var pixels = new byte[3 * plane];
        for (var p = 0; p < plane; p++)
        {
            pixels[3 * p] = record[1 + p];
            pixels[3 * p + 1] = record[1 + plane + p];
            pixels[3 * p + 2] = record[1 + 2 * plane + p];
        }
        return new RgbImage(Side, Side, pixels);
    }

    private sealed class Source(DatasetManifest manifest, string folder) : IImageSource
    {
        public IEnumerable<(string Id, RgbImage Image)> Read(string split, Func<string, bool> wanted)
        {
            var role = Roles.Single(r => r.Value == split).Key;
            var index = 0;
            var record = new byte[RecordBytes];
            foreach (var file in manifest.FilesWithRole(role))
            {
                using var stream = File.OpenRead(Path.Combine(folder, file.Path));
                while (stream.Position < stream.Length)
                {
                    stream.ReadExactly(record);
                    var id = ImageId(split, index++);
                    if (wanted(id)) yield return (id, ToImage(record));
                }
            }
        }
    }
}
