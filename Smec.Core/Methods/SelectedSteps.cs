using System.Globalization;

namespace Smec.Core.Methods;

/// <summary>
/// The one settings record of what a trained compressor kept at each dim it serves:
/// <c>selected_steps@&lt;d&gt;</c> = "B1 B2 ...", the step selected on validation by every trained part
/// that serves d (SMEC/MRL: each chain step up to the one giving d; Matryoshka-Adaptor: its supervised
/// stage; Search-Adaptor: the dim's model). Step 0 is a part's untrained start, so a dim whose steps are
/// all 0 shows its initialisation's number (the "[kept start]" mark, Smec.Experiments/Verdicts/KeptStart.fs).
/// </summary>
public static class SelectedSteps
{
    public const string Prefix = "selected_steps@";

    public static string Key(int dim) => Prefix + dim.ToString(CultureInfo.InvariantCulture);

    public static string Format(IEnumerable<int> steps) => string.Join(" ", steps.Select(s => s.ToString(CultureInfo.InvariantCulture)));
}
