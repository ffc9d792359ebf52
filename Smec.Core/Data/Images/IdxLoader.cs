using System.Buffers.Binary;
using System.IO.Compression;
using Smec.Core.Data.Manifests;

namespace Smec.Core.Data.Images;

/// <summary>
/// IDX files (MNIST and Fashion-MNIST), gzipped: <c>&lt;split&gt;-images</c> (magic 0x803, N x rows
/// x cols bytes) and <c>&lt;split&gt;-labels</c> (magic 0x801, N bytes). Ids are
/// <c>&lt;split&gt;/NNNNN</c>, the index in the file.
/// </summary>
public static class IdxLoader
{
    public static readonly string[] SplitNames = ["train", "test"];

    public static ImageClassDataset Load(DatasetManifest manifest, string folder)
    {
        var splits = new Dictionary<string, IReadOnlyList<LabeledImage>>();
        foreach (var split in SplitNames)
        {
            var labelsPath = Path.Combine(folder, manifest.FileWithRole($"{split}-labels").Path);
            var labels = ReadLabels(labelsPath, manifest.Classes.Count);
            var imagesPath = Path.Combine(folder, manifest.FileWithRole($"{split}-images").Path);
            var (count, _, _) = ReadImagesHeader(imagesPath);
            if (count != labels.Length)
                throw new DataVerificationException($"{imagesPath}: holds {count} images, but {labelsPath} holds {labels.Length} labels");
            splits[split] = labels.Select((label, i) => new LabeledImage(ImageId(split, i), label)).ToList();
        }
        return new ImageClassDataset(manifest.Id, manifest.Classes, splits, new IdxImageSource(manifest, folder));
    }

    public static string ImageId(string split, int index) => $"{split}/{index:D5}";

    private static byte[] ReadLabels(string path, int classCount)
    {
        using var stream = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        var header = ReadExactly(stream, 8, path);
        var magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != 0x801) throw new DataVerificationException($"{path}: magic 0x{magic:x} is not an IDX label file (0x801)");
        var count = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
        var labels = ReadExactly(stream, count, path);
        for (var i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount)
                throw new DataVerificationException($"{path}: label {labels[i]} of item {i} is not below the {classCount} classes");
        return labels;
    }

    internal static (int Count, int Rows, int Cols) ReadImagesHeader(string path)
    {
        using var stream = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        return ReadImagesHeader(stream, path);
    }

    private static (int Count, int Rows, int Cols) ReadImagesHeader(Stream stream, string path)
    {
        var header = ReadExactly(stream, 16, path);
        var magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != 0x803) throw new DataVerificationException($"{path}: magic 0x{magic:x} is not an IDX image file (0x803)");
        return (BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4)),
                BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(8)),
                BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(12)));
    }

    private static byte[] ReadExactly(Stream stream, int count, string path)
    {
        var buffer = new byte[count];
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException e) { throw new DataVerificationException($"{path}: ends early (truncated file)", e); }
        return buffer;
    }

    private sealed class IdxImageSource(DatasetManifest manifest, string folder) : IImageSource
    {
        public IEnumerable<(string Id, RgbImage Image)> Read(string split, Func<string, bool> wanted)
        {
            var path = Path.Combine(folder, manifest.FileWithRole($"{split}-images").Path);
            using var stream = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            var (count, rows, cols) = ReadImagesHeader(stream, path);
            var pixels = new byte[rows * cols];
            for (var i = 0; i < count; i++)
            {
                try { stream.ReadExactly(pixels); }
                catch (EndOfStreamException e) { throw new DataVerificationException($"{path}: ends inside image {i} (truncated file)", e); }
                var id = ImageId(split, i);
                if (wanted(id)) yield return (id, RgbImage.FromGrey(cols, rows, pixels));
            }
        }
    }
}
