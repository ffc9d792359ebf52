using Smec.Core.Data.Images;

namespace Smec.Core.Encoders;

/// <summary>Bilinear resizing to planar float channels, the input layout of the ResNet graphs.</summary>
public static class ImageResize
{
    /// <summary>
    /// Resize to size x size with bilinear interpolation on half-pixel centres (source coordinate
    /// (x + 0.5) * scale - 0.5, clamped at the borders; the convention of OpenCV's INTER_LINEAR
    /// and ONNX Resize "half_pixel"), writing planar R, G, B planes of 0..255 floats.
    /// </summary>
    public static void BilinearPlanar(RgbImage image, int size, Span<float> planes)
    {
        if (planes.Length != 3 * size * size) throw new ArgumentException($"need {3 * size * size} floats, got {planes.Length}");
        var scaleX = (double)image.Width / size;
        var scaleY = (double)image.Height / size;
        var plane = size * size;
        var px = image.Pixels;
        for (var y = 0; y < size; y++)
        {
            var (y0, y1, wy) = Taps(y, scaleY, image.Height);
            for (var x = 0; x < size; x++)
            {
                var (x0, x1, wx) = Taps(x, scaleX, image.Width);
                var i00 = (y0 * image.Width + x0) * 3;
                var i01 = (y0 * image.Width + x1) * 3;
                var i10 = (y1 * image.Width + x0) * 3;
                var i11 = (y1 * image.Width + x1) * 3;
                for (var c = 0; c < 3; c++)
                {
                    var top = px[i00 + c] + (px[i01 + c] - px[i00 + c]) * wx;
                    var bottom = px[i10 + c] + (px[i11 + c] - px[i10 + c]) * wx;
                    planes[c * plane + y * size + x] = (float)(top + (bottom - top) * wy);
                }
            }
        }
    }

    private static (int Low, int High, double Weight) Taps(int dst, double scale, int srcSize)
    {
        var src = Math.Clamp((dst + 0.5) * scale - 0.5, 0, srcSize - 1);
        var low = (int)Math.Floor(src);
        var high = Math.Min(low + 1, srcSize - 1);
        return (low, high, src - low);
    }
}
