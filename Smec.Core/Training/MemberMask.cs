using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// Which members of an ensemble still train. It changes only at validation (a member stops early), so the
/// device copy the tensor update reads is made then, never inside a step: a GPU step needs no host round trip.
/// </summary>
public sealed class MemberMask : IDisposable
{
    private readonly bool[] _active;
    /// <summary>[K, 1, ..., 1] bool on a device, per (device, rank), made on first use after a change.</summary>
    private readonly Dictionary<(string Device, int Rank), Tensor> _onDevice = new();

    public MemberMask(int members)
    {
        if (members < 1) throw new ArgumentException($"an ensemble needs at least one member, got {members}");
        _active = Enumerable.Repeat(true, members).ToArray();
    }

    public int Count => _active.Length;
    public bool IsActive(int member) => _active[member];
    public bool AnyActive => _active.Any(a => a);

    /// <summary>Stop a member: from now on the optimizer leaves its parameters and moments as they are.</summary>
    public void Stop(int member)
    {
        _active[member] = false;
        foreach (var t in _onDevice.Values) t.Dispose();
        _onDevice.Clear();
    }

    /// <summary>The mask shaped to broadcast over a [K, ...] parameter, on its device (kept until the next change).</summary>
    public Tensor OnDevice(Tensor parameter)
    {
        var key = (parameter.device.ToString(), (int)parameter.dim());
        if (!_onDevice.TryGetValue(key, out var mask))
        {
            var shape = new long[key.Item2];
            Array.Fill(shape, 1L);
            shape[0] = Count;
            _onDevice[key] = mask = tensor(_active, device: parameter.device).reshape(shape).DetachFromDisposeScope();
        }
        return mask;
    }

    public void Dispose()
    {
        foreach (var t in _onDevice.Values) t.Dispose();
        _onDevice.Clear();
    }
}
