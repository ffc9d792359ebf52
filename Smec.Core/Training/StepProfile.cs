using System.Diagnostics;

namespace Smec.Core.Training;

/// <summary>
/// Where a training run's wall time goes, phase by phase (batch building, loss, backward, optimizer,
/// validation, checkpoint). On when SMEC_PROFILE_STEPS=1: the loop then prints one line per run on
/// stderr. Costs two timestamps per phase, so it changes no number and little time.
/// </summary>
public sealed class StepProfile
{
    public const string Variable = "SMEC_PROFILE_STEPS";

    public static bool Enabled => Environment.GetEnvironmentVariable(Variable) is "1" or "true";

    private readonly Dictionary<string, long> _ticks = new();
    private readonly List<string> _order = [];
    private long _mark = Stopwatch.GetTimestamp();

    /// <summary>Start timing from now.</summary>
    public void Restart() => _mark = Stopwatch.GetTimestamp();

    /// <summary>Charge the time since the last mark to <paramref name="phase"/>.</summary>
    public void Lap(string phase)
    {
        var now = Stopwatch.GetTimestamp();
        if (!_ticks.ContainsKey(phase)) { _ticks[phase] = 0; _order.Add(phase); }
        _ticks[phase] += now - _mark;
        _mark = now;
    }

    public IReadOnlyList<(string Phase, double Seconds)> Phases =>
        _order.Select(p => (p, (double)_ticks[p] / Stopwatch.Frequency)).ToArray();

    public string Describe(int steps)
    {
        var total = Phases.Sum(p => p.Seconds);
        var parts = Phases.Select(p => $"{p.Phase} {1000 * p.Seconds / Math.Max(1, steps):F2} ms ({100 * p.Seconds / Math.Max(total, 1e-12):F0}%)");
        return $"per step over {steps} steps: {string.Join(", ", parts)}";
    }
}
