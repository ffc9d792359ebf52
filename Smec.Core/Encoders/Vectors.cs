namespace Smec.Core.Encoders;

/// <summary>Small row operations shared by the encoders.</summary>
public static class Vectors
{
    /// <summary>Scale a row to unit L2 norm (a zero row stays zero).</summary>
    public static void NormalizeL2(Span<float> row)
    {
        double sum = 0;
        foreach (var v in row) sum += (double)v * v;
        if (sum <= 0) return;
        var scale = (float)(1.0 / Math.Sqrt(sum));
        for (var i = 0; i < row.Length; i++) row[i] *= scale;
    }
}
