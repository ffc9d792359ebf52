using System.Security.Cryptography;

namespace Smec.Core.Storage;

/// <summary>
/// A binary file that ends with the SHA-256 of everything before it (training checkpoints): written
/// atomically, and read back only when the bytes still match, so a checkpoint whose tensors were
/// overwritten or cut short is refused instead of resumed into a corrupt model.
/// </summary>
public static class ChecksummedFile
{
    private const int DigestBytes = 32;

    public static void Write(string path, Action<BinaryWriter> write)
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, System.Text.Encoding.UTF8, leaveOpen: true)) write(w);
        var digest = SHA256.HashData(payload.GetBuffer().AsSpan(0, (int)payload.Length));
        AtomicFile.Write(path, stream =>
        {
            stream.Write(payload.GetBuffer(), 0, (int)payload.Length);
            stream.Write(digest);
        });
    }

    /// <summary>The payload, once its checksum verifies; <paramref name="remedy"/> ends the message when it does not.</summary>
    public static MemoryStream OpenVerified(string path, string remedy)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < DigestBytes || !SHA256.HashData(bytes.AsSpan(0, bytes.Length - DigestBytes)).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - DigestBytes)))
            throw new InvalidDataException(
                $"{path}: its contents do not match the checksum written with them (corrupt, cut short or changed after writing); {remedy}");
        return new MemoryStream(bytes, 0, bytes.Length - DigestBytes, writable: false);
    }
}
