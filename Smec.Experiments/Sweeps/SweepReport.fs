/// A sweep's report from its stored results: per setting and dim, validation and test nDCG@10 as
/// mean ±half the seed range (the catalog's convention); the best setting per dataset and dim chosen
/// on VALIDATION only, with its test figure (a dataset is data, not a setting: each dataset gets its
/// own choice); charts of the metric against each axis. Written as
/// report.md, report.html (offline: plotly.js inlined), settings.csv and points.csv.
module Smec.Experiments.Sweeps.SweepReport

open System
open System.Globalization
open System.IO
open System.Net
open System.Text
open Deedle
open Plotly.NET
open Smec.Experiments.Catalog.Builders
open Smec.Experiments.Running
open Smec.Experiments.Sweeps.SweepPlan
open Smec.Experiments.Store

/// The validation figure a retrieval experiment records beside the test one (Experiments.retrieval).
let validationAt (dims: int) = "val-" + ndcgAt dims

/// One stored point at one dim.
type PointRow =
    { Key: string
      /// The data the point ran on ("scifact", or "scifact / encoder" when the sweep has several encoders).
      Data: string
      Setting: string
      Seed: string
      Dim: int
      Validation: float
      Test: float }

/// A setting (a point without its seed) at one dim, over its seeds.
type SettingRow =
    { Setting: string
      Data: string
      Dim: int
      Seeds: int
      Planned: int
      ValidationMean: float
      ValidationHalfRange: float
      TestMean: float
      TestHalfRange: float }

type SweepReport =
    { Plan: SweepPlan
      /// Every stored point x dim (NaN where a figure is missing).
      Points: Frame<int, string>
      Settings: SettingRow list
      /// (data, dim) -> the setting with the best mean validation nDCG@10 among the complete
      /// settings on that data.
      Best: ((string * int) * SettingRow) list
      Stored: int
      Missing: string list
      /// (setting, dim) whose stored points hold no test figure at that dim: SKIPPED, never blank.
      Unscored: (string * int) list
      /// Settings without a validation figure (results stored before validation was recorded).
      NoValidation: string list }

let private stats (values: float list) =
    match values |> List.filter (Double.IsNaN >> not) with
    | [] -> nan, nan
    | vs -> List.average vs, (List.max vs - List.min vs) / 2.0

/// Read every stored point of the plan and aggregate.
let build (resultsDir: string) (plan: SweepPlan) : SweepReport =
    let severalEncoders = plan.Points |> List.map (fun p -> p.Values["encoder"]) |> List.distinct |> List.length > 1
    let dataOf (p: Point) = if severalEncoders then sprintf "%s / %s" p.Values["dataset"] p.Values["encoder"] else p.Values["dataset"]
    let loaded = plan.Points |> List.map (fun p -> p, ResultStore.tryLoad resultsDir p.Key)
    // A setting's result at one seed: its point's, or on a k-fold dataset its folds' merged (every
    // judged query once, from the fold that tested it); None until every fold is stored.
    let perSeed =
        loaded
        |> List.groupBy (fun (p, _) -> p.Setting, p.Values[seedColumn])
        |> List.map (fun (_, members) ->
            let stored = members |> List.choose (fun (p, s) -> match s with Some(Ok r) -> Some(p, r) | _ -> None)
            let p = fst members.Head
            match stored with
            | _ when stored.Length <> members.Length -> p, None
            | [ one ] -> p, Some(snd one)
            | _ ->
                p, Some(FoldResults.mergeResults { p.Config with Split = Splits.unfolded p.Config.Split } (stored |> List.map (fun (q, r) -> FoldResults.foldOf q.Config, r))))
    let rows =
        [ for p, stored in perSeed do
              match stored with
              | Some r ->
                  for d in plan.Dims do
                      let get name = r.Measurements |> Map.tryFind name |> Option.defaultValue nan
                      yield
                          { Key = p.Key
                            Data = dataOf p
                            Setting = p.Setting
                            Seed = p.Values[seedColumn]
                            Dim = d
                            Validation = get (validationAt d)
                            Test = get (ndcgAt d) }
              | _ -> () ]
    let points = Frame.ofRecords rows
    // Seeds planned per setting (a k-fold setting's folds are one seed's figure).
    let planned = plan.Points |> List.groupBy (fun p -> p.Setting) |> List.map (fun (s, ps) -> s, ps |> List.map (fun p -> p.Values[seedColumn]) |> List.distinct |> List.length) |> Map.ofList
    let dataOfSetting = plan.Points |> List.map (fun p -> p.Setting, dataOf p) |> Map.ofList
    let settings =
        [ for setting in plan.Points |> List.map (fun p -> p.Setting) |> List.distinct do
              for d in plan.Dims do
                  let mine = rows |> List.filter (fun r -> r.Setting = setting && r.Dim = d && not (Double.IsNaN r.Test))
                  if not mine.IsEmpty then
                      let vm, vr = stats (mine |> List.map (fun r -> r.Validation))
                      let tm, tr = stats (mine |> List.map (fun r -> r.Test))
                      yield
                          { Setting = setting; Data = dataOfSetting[setting]; Dim = d; Seeds = mine.Length; Planned = planned[setting]
                            ValidationMean = vm; ValidationHalfRange = vr; TestMean = tm; TestHalfRange = tr } ]
    let best =
        [ for data in plan.Points |> List.map dataOf |> List.distinct do
              for d in plan.Dims do
                  let candidates =
                      settings |> List.filter (fun s -> s.Data = data && s.Dim = d && s.Seeds = s.Planned && not (Double.IsNaN s.ValidationMean))
                  if not candidates.IsEmpty then yield (data, d), (candidates |> List.maxBy (fun s -> s.ValidationMean)) ]
    { Plan = plan
      Points = points
      Settings = settings
      Best = best
      Stored = loaded |> List.filter (fun (_, s) -> match s with Some(Ok _) -> true | _ -> false) |> List.length
      Missing = loaded |> List.filter (fun (_, s) -> match s with Some(Ok _) -> false | _ -> true) |> List.map (fun (p, _) -> p.Key)
      Unscored =
        [ for setting in rows |> List.map (fun r -> r.Setting) |> List.distinct do
              for d in plan.Dims do
                  if not (settings |> List.exists (fun s -> s.Setting = setting && s.Dim = d)) then yield setting, d ]
      NoValidation = settings |> List.filter (fun s -> Double.IsNaN s.ValidationMean) |> List.map (fun s -> s.Setting) |> List.distinct }

let private x100 (v: float) = if Double.IsNaN v then "-" else (v * 100.0).ToString("F1", CultureInfo.InvariantCulture)
let figure (mean: float) (halfRange: float) (seeds: int) =
    if Double.IsNaN mean then "-"
    elif seeds > 1 then sprintf "%s ±%s" (x100 mean) (x100 halfRange)
    else x100 mean

/// The settings table: one row per setting, validation and (labelled) test columns per dim.
let settingsTable (report: SweepReport) =
    let dims = report.Plan.Dims
    let header =
        [ "setting"; "seeds" ]
        @ [ for d in dims -> sprintf "val @%d" d ]
        @ [ for d in dims -> sprintf "TEST @%d (not for selection)" d ]
    let rows =
        [ for setting in report.Settings |> List.map (fun s -> s.Setting) |> List.distinct ->
              let at d = report.Settings |> List.tryFind (fun s -> s.Setting = setting && s.Dim = d)
              let seeds = report.Settings |> List.filter (fun s -> s.Setting = setting) |> List.map (fun s -> sprintf "%d/%d" s.Seeds s.Planned) |> List.tryHead |> Option.defaultValue ""
              let chosen d = report.Best |> List.exists (fun ((_, bd), b) -> bd = d && b.Setting = setting)
              // A cell without a figure says why: its points are stored but scored no figure at
              // this dim (SKIPPED), or they are not stored yet (missing: `smec sweep run`).
              let absent d = if List.contains (setting, d) report.Unscored then "SKIPPED: not scored at this dim" else "missing"
              [ setting; seeds ]
              @ [ for d in dims -> match at d with Some s -> figure s.ValidationMean s.ValidationHalfRange s.Seeds + (if chosen d then " *" else "") | None -> absent d ]
              @ [ for d in dims -> match at d with Some s -> figure s.TestMean s.TestHalfRange s.Seeds | None -> absent d ] ]
    header, rows

/// The chosen setting per dataset and dim (on validation) with its test figure.
let bestTable (report: SweepReport) =
    [ "dataset"; "dims"; "chosen on validation"; "val nDCG@10"; "test nDCG@10 of the chosen setting"; "seeds" ],
    [ for (data, d), s in report.Best ->
          [ data; string d; s.Setting; figure s.ValidationMean s.ValidationHalfRange s.Seeds; figure s.TestMean s.TestHalfRange s.Seeds; string s.Seeds ] ]

let private markdownTable (header: string list) (rows: string list list) =
    let line (cells: string list) = "| " + (cells |> List.map (fun c -> c.Replace("|", "\\|")) |> String.concat " | ") + " |"
    String.concat "\n" ([ line header; line (header |> List.map (fun _ -> "---")) ] @ (rows |> List.map line))

let summaryLine (report: SweepReport) =
    sprintf "%d of %d points stored%s" report.Stored report.Plan.Points.Length
        (if report.Missing.IsEmpty then "" else sprintf "; %d missing (run `smec sweep run` again to compute only those)" report.Missing.Length)

let markdown (report: SweepReport) =
    let spec = report.Plan.Spec
    let out = StringBuilder()
    let add (s: string) = out.AppendLine s |> ignore
    add (sprintf "# Sweep %s" spec.Name)
    add ""
    if spec.Description <> "" then add spec.Description; add ""
    add (sprintf "Spec: %s. %s. nDCG@10 x100; with several seeds, mean ±half the seed range." spec.File (summaryLine report))
    add ""
    add "## Best setting per dataset and dim (chosen on validation nDCG@10 within each dataset; test shown for the chosen setting only)"
    add ""
    add (bestTable report ||> markdownTable)
    add ""
    add "## Every setting (* = chosen at that dim). TEST columns are for reading only: selection never uses them."
    add ""
    add (settingsTable report ||> markdownTable)
    if not report.NoValidation.IsEmpty then
        add ""
        add (sprintf "No validation figure stored for: %s (results stored before validation figures were recorded): they cannot be chosen." (String.concat "; " report.NoValidation))
    out.ToString()

// ---- HTML --------------------------------------------------------------------------------------

let private encode (text: string) = WebUtility.HtmlEncode text

let private htmlTable (header: string list) (rows: string list list) =
    let out = StringBuilder("<table><thead><tr>")
    for h in header do out.Append("<th>").Append(encode h).Append("</th>") |> ignore
    out.Append("</tr></thead><tbody>") |> ignore
    for r in rows do
        out.Append("<tr>") |> ignore
        for c in r do out.Append(if c.EndsWith " *" then "<td class=\"chosen\">" else "<td>").Append(encode c).Append("</td>") |> ignore
        out.Append("</tr>") |> ignore
    out.Append("</tbody></table>").ToString()

/// For each varied column and dim: the metric against that column's values, one line per
/// combination of the other columns, error bars = half the seed range.
let charts (report: SweepReport) (metric: string) (pick: SettingRow -> float * float) =
    let plan = report.Plan
    let valuesOf (setting: string) =
        let p = plan.Points |> List.find (fun p -> p.Setting = setting)
        p.Values
    [ for column in plan.Columns do
          let order = plan.Points |> List.map (fun p -> p.Values[column]) |> List.distinct
          if order.Length > 1 then
              for d in plan.Dims do
                  let rows = report.Settings |> List.filter (fun s -> s.Dim = d)
                  let others (s: SettingRow) =
                      let v = valuesOf s.Setting
                      plan.Columns |> List.filter ((<>) column) |> List.map (fun c -> sprintf "%s=%s" c v[c]) |> String.concat " "
                  let traces =
                      [ for label, group in rows |> List.groupBy others ->
                            let position (s: SettingRow) =
                                let value = (valuesOf s.Setting).[column]
                                List.findIndex ((=) value) order
                            let sorted = group |> List.sortBy position
                            let ys = sorted |> List.map (pick >> fst >> (*) 100.0)
                            Chart.Line(x = (sorted |> List.map (fun s -> (valuesOf s.Setting)[column])), y = ys, ShowMarkers = true, Name = (if label = "" then metric else label))
                            |> Chart.withYErrorStyle (Array = (sorted |> List.map (pick >> snd >> (*) 100.0))) ]
                  if not traces.IsEmpty then
                      yield
                          Chart.combine traces
                          |> Chart.withTitle (sprintf "%s vs %s at %d dims" metric column d)
                          |> Chart.withXAxisStyle (TitleText = column)
                          |> Chart.withYAxisStyle (TitleText = metric + " x100")
                          |> Chart.withSize (560, 400) ]

let private style =
    """<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; } td.chosen { background: #e6f4e6; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; } .test { border-left: 4px solid #d62728; padding-left: 0.8em; }
</style>"""

let html (report: SweepReport) =
    let spec = report.Plan.Spec
    let validation = charts report "validation nDCG@10" (fun s -> s.ValidationMean, s.ValidationHalfRange)
    let test = charts report "TEST nDCG@10" (fun s -> s.TestMean, s.TestHalfRange)
    let body = StringBuilder()
    let add (s: string) = body.Append s |> ignore
    add (sprintf "<h1>Sweep %s</h1><p>%s</p><p>Spec: %s. %s. nDCG@10 x100; with several seeds, mean ±half the seed range.</p>"
            (encode spec.Name) (encode spec.Description) (encode spec.File) (encode (summaryLine report)))
    add "<h2>Best setting per dataset and dim, chosen on validation</h2><p>Selection uses validation nDCG@10 only, within each dataset (a dataset is data, not a setting); the test figure is shown for the chosen setting.</p>"
    add (bestTable report ||> htmlTable)
    add "<h2>Validation nDCG@10 against each axis</h2><div class=\"charts\">"
    for c in validation |> List.skip (min 1 validation.Length) do add (GenericChart.toChartHTML c)
    add "</div><div class=\"test\"><h2>TEST nDCG@10 against each axis (for reading only; not used for selection)</h2><div class=\"charts\">"
    for c in test do add (GenericChart.toChartHTML c)
    add "</div></div><h2>Every setting</h2><p>* = chosen at that dim. TEST columns are labelled: selection never reads them.</p>"
    add (settingsTable report ||> htmlTable)
    add "<p>Every number per point: points.csv beside this page; each result with its full config in the result cache.</p>"
    let lead =
        match validation with
        | first :: _ -> first
        | [] -> Chart.Line(x = [ 0 ], y = [ 0 ], Name = "no axis varies") |> Chart.withTitle "no axis varies in this sweep"
    lead
    |> Chart.withDisplayOptions (
        DisplayOptions.init (
            DocumentTitle = sprintf "Sweep %s" spec.Name,
            AdditionalHeadTags = [ Giraffe.ViewEngine.HtmlElements.rawText style ],
            ChartDescription = [ Giraffe.ViewEngine.HtmlElements.rawText (body.ToString()) ],
            PlotlyJSReference = PlotlyJSReference.Full
        )
    )
    |> GenericChart.toEmbeddedHTML

/// Write report.md, report.html, settings.csv and points.csv into the sweep folder.
let write (sweepDir: string) (report: SweepReport) =
    Directory.CreateDirectory sweepDir |> ignore
    SweepFolder.writeText (Path.Combine(sweepDir, "report.md")) (markdown report)
    SweepFolder.writeText (Path.Combine(sweepDir, "report.html")) (html report)
    let csvOf (frame: Frame<int, string>) =
        use text = new StringWriter()
        frame.SaveCsv(text, includeRowKeys = false, culture = CultureInfo.InvariantCulture)
        text.ToString()
    SweepFolder.writeText (Path.Combine(sweepDir, "points.csv")) (if report.Points.RowCount = 0 then "" else csvOf report.Points)
    SweepFolder.writeText (Path.Combine(sweepDir, "settings.csv")) (if report.Settings.IsEmpty then "" else csvOf (Frame.ofRecords report.Settings))
