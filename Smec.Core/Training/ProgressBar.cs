using System.Diagnostics;

namespace Smec.Core.Training;

/// <summary>
/// A one-line progress bar on stderr (redrawn with \r when stderr is a terminal; otherwise one line
/// per validation), so stdout stays clean for results.
/// </summary>
public sealed class ProgressBar(string label, int totalSteps, bool enabled)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private long _lastDrawMs = -1000;

    public void Update(int step, double loss, double? best, bool evaluated, double? current = null)
    {
        if (!enabled) return;
        var now = _clock.ElapsedMilliseconds;
        if (_interactive ? now - _lastDrawMs < 200 && !evaluated : !evaluated) return;
        _lastDrawMs = now;
        const int width = 24;
        var done = (int)Math.Round(width * (double)step / Math.Max(1, totalSteps));
        var rate = step / Math.Max(1e-3, _clock.Elapsed.TotalSeconds);
        var text = $"{label} [{new string('#', done)}{new string('-', width - done)}] {step}/{totalSteps} " +
                   $"loss {loss:F4}{(evaluated && current is { } c ? $" val {c:F4}" : "")}{(best is { } b ? $" best val {b:F4}" : "")} {rate:F0} it/s";
        if (_interactive) Console.Error.Write("\r" + text.PadRight(100));
        else Console.Error.WriteLine(text);
    }

    public void Finish(string summary)
    {
        if (!enabled) return;
        Console.Error.WriteLine((_interactive ? "\r" : "") + $"{label} {summary}".PadRight(100));
    }
}
