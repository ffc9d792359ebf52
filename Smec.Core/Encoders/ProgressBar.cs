using System.Diagnostics;

namespace Smec.Core.Encoders;

/// <summary>
/// Progress of a long encode on stderr, with rate and ETA. On a terminal one line is redrawn at
/// most 4 times a second; when stderr is a file or pipe, a line is written at each further 10%
/// (and once a minute while a step is slow), so logs stay short.
/// </summary>
public sealed class ProgressBar : IProgress<int>
{
    private readonly string _label;
    private readonly int _total;
    private readonly TextWriter _writer;
    private readonly bool _interactive;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastDraw = TimeSpan.Zero;
    private int _lastDecile = -1;
    private bool _drawn;
    private bool _finished;

    public ProgressBar(string label, int total, TextWriter? writer = null, bool? interactive = null)
    {
        _label = label;
        _total = Math.Max(total, 1);
        _writer = writer ?? Console.Error;
        _interactive = interactive ?? (writer == null && !Console.IsErrorRedirected);
    }

    public void Report(int done)
    {
        if (_finished) return;
        var now = _clock.Elapsed;
        if (_interactive)
        {
            if (done < _total && _drawn && now - _lastDraw < TimeSpan.FromMilliseconds(250)) return;
            _drawn = true;
            _lastDraw = now;
            _writer.Write($"\r{Line(done, now)}   ");
        }
        else
        {
            var decile = (int)(10L * done / _total);
            if (done < _total && decile <= _lastDecile && now - _lastDraw < TimeSpan.FromMinutes(1)) return;
            _lastDecile = decile;
            _lastDraw = now;
            _writer.WriteLine(Line(done, now));
        }
        if (done >= _total)
        {
            _finished = true;
            if (_interactive) _writer.WriteLine();
        }
        _writer.Flush();
    }

    private string Line(int done, TimeSpan elapsed)
    {
        const int width = 24;
        var fraction = Math.Clamp((double)done / _total, 0, 1);
        var filled = (int)(fraction * width);
        var rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        var eta = rate > 0 ? TimeSpan.FromSeconds((_total - done) / rate) : TimeSpan.Zero;
        return $"{_label} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{_total} " +
               $"{rate:F1}/s elapsed {Format(elapsed)} ETA {Format(eta)}";
    }

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss") : t.ToString(@"m\:ss");
}
