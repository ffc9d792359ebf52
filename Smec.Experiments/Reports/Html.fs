/// report.html: a self-contained offline page. Plotly.NET charts of nDCG@10 (or the table's
/// measure) vs dims per method, each point with its 95% interval as an error bar, ours beside the paper's curve, then the tables of report.md.
/// plotly.js is inlined (PlotlyJSReference.Full; the CDN default would be blank offline).
module Smec.Experiments.Reports.Html

open System.Net
open System.Text
open Plotly.NET
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Published
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Running.TableRun

let private encode (text: string) = WebUtility.HtmlEncode text

/// One colour per method, the same for our curve (solid) and the paper's (dashed).
let private colourOf (series: string) =
    let palette =
        [ Profiles.smec.Row, "#d62728"; Profiles.matryoshkaAdaptor.Row, "#2ca02c"; Profiles.searchAdaptor.Row, "#ff7f0e"; Profiles.pca.Row, "#1f77b4"
          "MRL truncation", "#7f7f7f"; Profiles.truncation.Row, "#7f7f7f"; Profiles.mrl.Row, "#8c564b" ]
    palette |> List.tryFind (fun (name, _) -> series.EndsWith name) |> Option.map (snd >> Color.fromString)

let private line (x: string list) (y: float list) (name: string) (dashed: bool) =
    let colour = colourOf name
    Chart.Line(
        x = x,
        y = y,
        ShowMarkers = true,
        Name = name,
        ?LineColor = colour,
        ?MarkerColor = colour,
        LineDash = (if dashed then StyleParam.DrawingStyle.Dash else StyleParam.DrawingStyle.Solid)
    )

/// Our curve with each point's 95% interval (seeds and queries) as an error bar; a point without
/// one gets a bar of 0.
let private lineWithIntervals (x: string list) (points: (float * (float * float) option) list) (name: string) =
    let y = points |> List.map fst
    let above = points |> List.map (fun (v, i) -> match i with Some(_, high) -> high - v | None -> 0.0)
    let below = points |> List.map (fun (v, i) -> match i with Some(low, _) -> v - low | None -> 0.0)
    line x y name false |> Chart.withYErrorStyle (Array = above, Arrayminus = below, Symmetric = false)

/// Our rows of a panel as lines over its numeric columns (dims), missing points left out.
let private oursChart (result: TableResult) (panel: string) (spec: ChartSpec) =
    let cells = result.Cells |> List.filter (fun c -> c.Cell.Panel = panel)
    let numeric (column: string) = fst (System.Int32.TryParse column)
    let traces =
        [ for row in result.Spec.Rows do
              let points =
                  [ for c in cells do
                        if c.Cell.Row = row && numeric c.Cell.Column then
                            match c.Value with
                            | Value v ->
                                let factor = c.Cell.Display.Factor
                                yield c.Cell.Column, (v.Mean * factor, c.Interval |> Option.map (fun i -> i.Low * factor, i.High * factor))
                            | Gap _ -> () ]
              if not points.IsEmpty then
                  yield lineWithIntervals (points |> List.map fst) (points |> List.map snd) row ]
    match traces with
    | [] -> None
    | _ ->
        Some(
            sprintf "ours: %s" panel,
            Chart.combine traces
            |> Chart.withXAxisStyle (TitleText = spec.XTitle)
            |> Chart.withYAxisStyle (TitleText = spec.YTitle)
        )

/// The paper's published curves for the chart's published panel.
let private paperChart (result: TableResult) (spec: ChartSpec) (factor: float) =
    match spec.PublishedPanel with
    | None -> None
    | Some panel ->
        let values =
            result.Published
            |> List.filter (fun p -> p.Key.Panel = panel && p.Axis = "dims" && (spec.PublishedEncoder.IsNone || Some p.Key.Encoder = spec.PublishedEncoder))
        let series =
            values
            |> List.groupBy (fun p -> if spec.PublishedEncoder.IsNone then sprintf "%s %s" p.Key.Encoder p.Key.Row else p.Key.Row)
        match series with
        | [] -> None
        | _ ->
            Some(
                sprintf "paper: %s (figure %s)" panel values.Head.Figure,
                Chart.combine
                    [ for name, points in series ->
                          let sorted = points |> List.sortBy (fun p -> p.Key.X)
                          line (sorted |> List.map (fun p -> string p.Key.X)) (sorted |> List.map (fun p -> scaled p * factor)) ("paper: " + name) true ]
                |> Chart.withXAxisStyle (TitleText = "dims")
                |> Chart.withYAxisStyle (TitleText = spec.YTitle)
            )

let private htmlTable (header: string list) (rows: (string * string) list list) =
    let out = StringBuilder()
    out.Append("<table><thead><tr>") |> ignore
    for h in header do out.Append("<th>").Append(encode h).Append("</th>") |> ignore
    out.Append("</tr></thead><tbody>") |> ignore
    for r in rows do
        out.Append("<tr>") |> ignore
        for text, css in r do out.Append(sprintf "<td class=\"%s\">" css).Append(encode text).Append("</td>") |> ignore
        out.Append("</tr>") |> ignore
    out.Append("</tbody></table>").ToString()

let private statusClass (text: string) =
    if text.Contains "FAIL" then "fail"
    elif text.Contains "IMPROVED" then "fail"
    elif text.Contains "TIE" then "tie"
    elif text.Contains "OK*" then "okstar"
    elif text.Contains "SKIPPED" then "skipped"
    elif text.EndsWith " OK" || text = "OK" then "ok"
    else ""

let private style =
    """<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.ok { background: #e6f4e6; } td.tie { background: #e8eef8; } td.okstar { background: #fff6d6; } td.fail { background: #fbe0e0; } td.skipped { color: #777; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
</style>"""

/// The page body after the lead figure: the other charts and every table of the report.
let private body (result: TableResult) (moreCharts: GenericChart list) =
    let spec = result.Spec
    let out = StringBuilder()
    let add (text: string) = out.Append(text) |> ignore
    if not moreCharts.IsEmpty then
        add "<div class=\"charts\">"
        for c in moreCharts do add (GenericChart.toChartHTML c)
        add "</div>"
    add (sprintf "<h1>%s</h1><p>%s</p>" (encode (CellText.title result)) (encode spec.Description))
    add (sprintf "<p>Seeds: %s. %s. <b>Verdicts: %s.</b></p>" (spec.Seeds |> List.map string |> String.concat ", ")
            (encode (CellText.experimentSummary result)) (encode (CellText.statusSummary result)))
    if result.Quick then
        add (sprintf "<p><b>%s run</b>: one seed per trained cell, not a finding.</p>" (encode ((quickLabel result).ToUpperInvariant())))
    match threadNote result with
    | Some note -> add (sprintf "<p><b>Note:</b> %s.</p>" (encode note))
    | None -> ()
    add (sprintf "<p>%s</p>" (encode (CellText.legend result)))
    add "<ul>"
    for note in spec.Notes do add (sprintf "<li>%s</li>" (encode note))
    for rule in splitRuleNotes result do add (sprintf "<li>Split rule, %s</li>" (encode rule))
    add "</ul>"
    for panel in spec.Panels do
        let frame = Frames.panelFrame result panel (CellText.tableCell result)
        let columns = frame.ColumnKeys |> List.ofSeq
        add (sprintf "<h2>%s</h2>" (encode panel))
        add (htmlTable ("" :: columns) [ for r in frame.RowKeys -> (r, "") :: [ for c in columns -> let t = Frames.textAt frame r c in t, statusClass t ] ])
    match CellText.reasons result with
    | [] -> ()
    | reasons ->
        add "<h2>Why cells are not computed</h2><ul>"
        for s, reason, n in reasons do add (sprintf "<li>%s (%d): %s</li>" s n (encode reason))
        add "</ul>"
    if not result.Claims.IsEmpty then
        add "<h2>Claims</h2>"
        match comparisonsNote result with
        | Some note -> add (sprintf "<p>%s</p>" (encode note))
        | None -> ()
        add (htmlTable [ "claim"; "panel"; "statement"; "comparisons (difference, Holm and 95% intervals)"; "status" ]
                 [ for c in result.Claims -> [ c.Claim.Id, ""; c.Claim.Panel, ""; c.Claim.Text, ""; c.Detail, ""; Status.name c.Status, statusClass (Status.name c.Status) ] ])
    if not result.Pairwise.IsEmpty then
        add "<h2>Pairwise intervals</h2>"
        add "<p>Every pair of the trained methods and PCA at each cell a claim reads: row - column, Holm-adjusted within the matrix (unadjusted 95% in parentheses); intervals include seed and query variance.</p>"
        for matrix in result.Pairwise do
            let title, header, rows = Smec.Experiments.Verdicts.Pairwise.tableOf matrix
            add (sprintf "<h3>%s</h3>" (encode title))
            add (htmlTable header (rows |> List.map (List.map (fun t -> t, ""))))
    match ProtocolTable.rows result with
    | [] -> ()
    | protocol ->
        add "<h2>Protocol</h2>"
        add (htmlTable ProtocolTable.header (protocol |> List.map (ProtocolTable.cells >> List.map (fun t -> t, ""))))
        add "<ul>"
        for sentence in ProtocolTable.differences protocol do add (sprintf "<li>%s</li>" (encode sentence))
        add "</ul>"
    add "<h2>Checks</h2>"
    add (htmlTable [ "panel"; "row"; "column"; "check"; "expected"; "actual"; "delta"; "tolerance"; "status"; "note" ]
             [ for c in result.Cells do
                   for k in c.Checks ->
                       let d = c.Cell.Display
                       [ c.Cell.Panel, ""; c.Cell.Row, ""; c.Cell.Column, ""; CheckKind.name k.Kind, ""
                         CellText.optionalNumber d k.Expected, ""; CellText.optionalNumber d k.Actual, ""; CellText.signed d k.Delta, ""
                         CellText.optionalNumber d k.Tolerance, ""; Status.name k.Status, statusClass (Status.name k.Status); k.Note, "" ] ])
    add "<h2>Rules</h2><ul>"
    for rule in CellText.rules do add (sprintf "<li>%s</li>" (encode rule))
    add "</ul>"
    add "<p>Every number with its config: results.json and cells.csv beside this page.</p>"
    out.ToString()

/// The page: the first panel's chart beside the paper's, then the other panels, then the tables.
let render (result: TableResult) : string =
    let spec = result.Spec
    let factor = result.Cells |> List.tryHead |> Option.map (fun c -> c.Cell.Display.Factor) |> Option.defaultValue 1.0
    let ours, paper =
        match spec.Chart with
        | None -> [], None
        | Some chart -> chart.Panels |> List.choose (fun p -> oursChart result p chart), paperChart result chart factor
    let titled (title: string, chart: GenericChart) = chart |> Chart.withTitle title |> Chart.withSize (640, 460)
    // The lead figure carries plotly.js; without any numbers it is an empty placeholder.
    let lead, rest =
        match ours, paper with
        | first :: more, Some p ->
            Chart.Grid(1, 2, SubPlotTitles = [ fst first; fst p ]) [ snd first; snd p ] |> Chart.withSize (1300, 480),
            more |> List.map titled
        | first :: more, None -> titled first, more |> List.map titled
        | [], Some p -> titled p, []
        | [], None -> Chart.Line(x = [ 0 ], y = [ 0 ], Name = "no data") |> Chart.withTitle "no chart for this table", []
    lead
    |> Chart.withDisplayOptions (
        DisplayOptions.init (
            DocumentTitle = CellText.title result,
            AdditionalHeadTags = [ Giraffe.ViewEngine.HtmlElements.rawText style ],
            ChartDescription = [ Giraffe.ViewEngine.HtmlElements.rawText (body result rest) ],
            PlotlyJSReference = PlotlyJSReference.Full
        )
    )
    |> GenericChart.toEmbeddedHTML
