using Smec.Core.Data.Images;

namespace Smec.Core.Encoders;

/// <summary>Whether a text is a query or a document: some encoders (arctic-embed) prefix queries.</summary>
public enum EncodeRole { Query, Document }

/// <summary>
/// An embedding model. <see cref="Settings"/> is the canonical form of every setting that changes
/// its numbers; the embedding cache keys on it together with <see cref="Id"/>.
/// </summary>
public interface IEncoder : IDisposable
{
    string Id { get; }
    int Dim { get; }
    string Settings { get; }
}

/// <summary>Encodes texts into row-major float rows (texts.Count x Dim), in input order.</summary>
public interface ITextEncoder : IEncoder
{
    float[] Encode(IReadOnlyList<string> texts, EncodeRole role, IProgress<int>? progress = null);
}

/// <summary>Encodes a stream of images into row-major float rows (count x Dim), in input order.</summary>
public interface IImageEncoder : IEncoder
{
    float[] Encode(IEnumerable<RgbImage> images, int count, IProgress<int>? progress = null);
}
