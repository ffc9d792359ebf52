namespace Smec.Core.Training;

/// <summary>
/// Derives independent seeds from (run seed, stream, index) with SplitMix64, so that every step's
/// randomness is a pure function of the step number: a resumed run draws exactly the same batches.
/// </summary>
public static class SeedMix
{
    public static ulong Mix(long seed, long stream, long index)
    {
        var z = (ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)stream * 0xBF58476D1CE4E5B9UL ^ (ulong)index * 0x94D049BB133111EBUL;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static Random Random(long seed, long stream, long index) => new((int)(Mix(seed, stream, index) & 0x7FFFFFFF));

    public const long EpochOrderStream = 1, NegativeStream = 2, RandomDocStream = 3, NoiseStream = 4;
}
