using StbImageSharp;

namespace Smec.Core.Data.Images;

/// <summary>An 8-bit RGB image, pixels interleaved (R, G, B) in row-major order.</summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[] pixels)
    {
        if (pixels.Length != width * height * 3)
            throw new ArgumentException($"{width}x{height} RGB needs {width * height * 3} bytes, got {pixels.Length}");
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public (byte R, byte G, byte B) At(int x, int y)
    {
        var i = (y * Width + x) * 3;
        return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    /// <summary>A grey image with its value replicated into the three channels.</summary>
    public static RgbImage FromGrey(int width, int height, ReadOnlySpan<byte> grey)
    {
        var pixels = new byte[width * height * 3];
        for (var i = 0; i < grey.Length; i++) pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = grey[i];
        return new RgbImage(width, height, pixels);
    }

    /// <summary>Decode a JPEG or PNG with StbImageSharp; <paramref name="source"/> names it in errors.</summary>
    public static RgbImage Decode(byte[] encoded, string source)
    {
        try
        {
            var result = ImageResult.FromMemory(encoded, ColorComponents.RedGreenBlue);
            return new RgbImage(result.Width, result.Height, result.Data);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new DataVerificationException($"{source}: cannot be decoded as an image ({e.Message})", e);
        }
    }
}
