using System.Diagnostics;
using System.Reflection;

namespace Smec.Core.Runtime;

/// <summary>How progress is shown.</summary>
public enum ProgressOutput
{
    /// <summary><c>SMEC_PROGRESS</c> if set, else: a notebook display inside dotnet-interactive, a redrawn
    /// line on a terminal, short log lines when stderr is a file or pipe.</summary>
    Auto,
    /// <summary>One line on stderr, redrawn in place with \r at most 4 times a second.</summary>
    Terminal,
    /// <summary>A line at each further 10% (and at least once a minute), then a summary line: for logs.</summary>
    Lines,
    /// <summary>One display in the notebook cell, updated in place at each further 10% (off when the
    /// notebook kernel offers no display).</summary>
    Notebook,
    /// <summary>Nothing.</summary>
    Off,
}

/// <summary>
/// The one progress bar of the project (encodes, training runs): label, bar, count, rate, ETA and an
/// optional detail (loss, validation score). stdout stays clean for results. Where it goes is
/// <see cref="ProgressOutput"/>; a notebook gets one updating display per bar, never a line per update.
/// </summary>
public sealed class ProgressBar : IProgress<int>
{
    public const string Variable = "SMEC_PROGRESS";

    /// <summary>The process-wide choice for bars created without an explicit output.</summary>
    public static ProgressOutput DefaultOutput { get; set; } = ProgressOutput.Auto;

    private readonly string _label;
    private readonly int _total;
    private readonly TextWriter _writer;
    private readonly ProgressOutput _output;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private NotebookDisplay? _display;
    private TimeSpan _lastDraw = TimeSpan.FromHours(-1);
    private int _lastDecile = -1;
    private bool _drawn, _finished;

    /// <param name="writer">Where text goes (stderr by default; a writer given here means <see cref="ProgressOutput.Lines"/> under Auto).</param>
    /// <param name="enabled">false: the bar shows nothing (a caller's own switch, e.g. TrainingOptions.Progress).</param>
    public ProgressBar(string label, int total, TextWriter? writer = null, ProgressOutput output = ProgressOutput.Auto, bool enabled = true)
    {
        _label = label;
        _total = Math.Max(total, 1);
        _writer = writer ?? Console.Error;
        _output = !enabled ? ProgressOutput.Off : Resolve(output == ProgressOutput.Auto ? DefaultOutput : output, writer is not null);
    }

    /// <summary>The output Auto stands for here.</summary>
    public static ProgressOutput Resolve(ProgressOutput output, bool explicitWriter = false)
    {
        if (output != ProgressOutput.Auto) return output;
        var variable = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(variable))
            return Enum.TryParse<ProgressOutput>(variable.Trim(), ignoreCase: true, out var chosen) && chosen != ProgressOutput.Auto
                ? chosen
                : throw new ArgumentException($"{Variable}='{variable}': expected terminal, lines, notebook or off");
        if (explicitWriter) return ProgressOutput.Lines;
        if (NotebookDisplay.InNotebook) return ProgressOutput.Notebook;
        return Console.IsErrorRedirected ? ProgressOutput.Lines : ProgressOutput.Terminal;
    }

    public ProgressOutput Output => _output;

    public void Report(int done) => Report(done, null);

    /// <summary>Progress to <paramref name="done"/> of the total; <paramref name="milestone"/> (e.g. a validation) may be drawn sooner.</summary>
    public void Report(int done, string? detail, bool milestone = false)
    {
        if (_finished || _output == ProgressOutput.Off) return;
        var now = _clock.Elapsed;
        var complete = done >= _total;
        switch (_output)
        {
            case ProgressOutput.Terminal:
                if (!complete && _drawn && now - _lastDraw < TimeSpan.FromMilliseconds(250)) return;
                _writer.Write($"\r{Line(done, now, detail)}".PadRight(100));
                break;
            case ProgressOutput.Lines:
                var decile = (int)(10L * Math.Min(done, _total) / _total);
                if (!complete && decile <= _lastDecile && now - _lastDraw < TimeSpan.FromMinutes(1)) return;
                _lastDecile = decile;
                _writer.WriteLine(Line(done, now, detail));
                break;
            case ProgressOutput.Notebook:
                // Updated at each further 10% (and at least once a minute): a live notebook redraws
                // the one display in place; a recorder that keeps every update stays short too.
                var tenth = (int)(10L * Math.Min(done, _total) / _total);
                if (!complete && _drawn && tenth <= _lastDecile && now - _lastDraw < TimeSpan.FromMinutes(1)) return;
                _lastDecile = tenth;
                Show(Line(done, now, detail));
                break;
        }
        _drawn = true;
        _lastDraw = now;
        _writer.Flush();
    }

    /// <summary>The closing line (replaces the bar on a terminal and in a notebook).</summary>
    public void Finish(string summary)
    {
        if (_finished || _output == ProgressOutput.Off) return;
        _finished = true;
        var text = $"{_label} {summary} ({Format(_clock.Elapsed)})";
        switch (_output)
        {
            case ProgressOutput.Terminal: _writer.WriteLine($"\r{text}".PadRight(100)); break;
            case ProgressOutput.Lines: _writer.WriteLine(text); break;
            case ProgressOutput.Notebook: Show(text, closing: true); break;
        }
        _writer.Flush();
    }

    /// <summary>The first line creates the display; later ones update it in place. A kernel whose
    /// displays have no id cannot update in place (each update would be a new output), so there
    /// only the closing line follows the first.</summary>
    private void Show(string text, bool closing = false)
    {
        if (_display is null) _display = NotebookDisplay.Create(text);
        else if (_display.UpdatesInPlace) _display.Update(text);
        else if (closing) NotebookDisplay.Create(text);
    }

    private string Line(int done, TimeSpan elapsed, string? detail)
    {
        const int width = 24;
        var fraction = Math.Clamp((double)done / _total, 0, 1);
        var filled = (int)(fraction * width);
        var rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        var eta = rate > 0 ? TimeSpan.FromSeconds(Math.Max(0, _total - done) / rate) : TimeSpan.Zero;
        return $"{_label} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{_total}" +
               (detail is null ? "" : " " + detail) + $" {rate:F1}/s elapsed {Format(elapsed)} ETA {Format(eta)}";
    }

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss") : t.ToString(@"m\:ss");

    /// <summary>
    /// A display in the current dotnet-interactive cell, updated in place (Kernel.display, then
    /// DisplayedValue.Update), found by reflection so Smec.Core needs no notebook package. When the
    /// kernel offers neither, nothing is shown.
    /// </summary>
    private sealed class NotebookDisplay
    {
        private static readonly Lazy<MethodInfo?> DisplayMethod = new(() =>
            AppDomain.CurrentDomain.GetAssemblies()
                .Where(a => a.GetName().Name == "Microsoft.DotNet.Interactive")
                .Select(a => a.GetType("Microsoft.DotNet.Interactive.Kernel"))
                .SelectMany(t => t?.GetMethods(BindingFlags.Public | BindingFlags.Static) ?? [])
                .FirstOrDefault(m => m.Name == "display" && m.GetParameters() is [{ ParameterType: var v }, { ParameterType: var s }]
                                     && v == typeof(object) && s == typeof(string[])));

        public static bool InNotebook => AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "Microsoft.DotNet.Interactive");

        private readonly object? _handle;
        private readonly MethodInfo? _update;

        private NotebookDisplay(object? handle)
        {
            _handle = handle;
            _update = handle?.GetType().GetMethod("Update", [typeof(object)]);
            // Updates are matched to the display by its id; without one they arrive as new outputs.
            var field = handle?.GetType().GetField("_displayId", BindingFlags.NonPublic | BindingFlags.Instance);
            var id = field is not null ? field.GetValue(handle) : handle?.GetType().GetProperty("DisplayId")?.GetValue(handle);
            UpdatesInPlace = _update is not null && id is string { Length: > 0 };
        }

        public bool UpdatesInPlace { get; }

        public static NotebookDisplay Create(string text)
        {
            try { return new NotebookDisplay(DisplayMethod.Value?.Invoke(null, [text, new[] { "text/plain" }])); }
            catch (TargetInvocationException) { return new NotebookDisplay(null); }
        }

        public void Update(string text)
        {
            try { _update?.Invoke(_handle, [text]); }
            catch (TargetInvocationException) { }
        }
    }
}
