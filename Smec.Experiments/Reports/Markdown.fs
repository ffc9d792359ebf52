/// report.md: the reproduced table per panel, the published values, every check (expected |
/// actual | delta | status), the claims with their numbers, and the experiments behind them.
module Smec.Experiments.Reports.Markdown

open System.Text
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Running.Runner
open Smec.Experiments.Running.TableRun

let private escape (text: string) = text.Replace("|", "\\|").Replace("\n", " ")

let private table (out: StringBuilder) (header: string list) (rows: string list list) =
    out.AppendLine("| " + (header |> List.map escape |> String.concat " | ") + " |") |> ignore
    out.AppendLine("|" + (header |> List.map (fun _ -> "---") |> String.concat "|") + "|") |> ignore
    for r in rows do out.AppendLine("| " + (r |> List.map escape |> String.concat " | ") + " |") |> ignore
    out.AppendLine() |> ignore

let private frameTable (out: StringBuilder) (corner: string) (frame: Deedle.Frame<string, string>) =
    let columns = frame.ColumnKeys |> List.ofSeq
    table out (corner :: columns) [ for r in frame.RowKeys -> r :: [ for c in columns -> Frames.textAt frame r c ] ]

/// One Markdown table per pairwise matrix (row - column, Holm-adjusted, unadjusted in parentheses),
/// each under a heading of the given level: the report's section and the robustness variants'.
let pairwiseTables (heading: string) (matrices: Smec.Experiments.Verdicts.Pairwise.Matrix list) : string =
    let out = StringBuilder()
    for matrix in matrices do
        let title, header, rows = Smec.Experiments.Verdicts.Pairwise.tableOf matrix
        out.AppendLine(heading + " " + title).AppendLine() |> ignore
        table out header rows
    out.ToString()

let render (result: TableResult) : string =
    let spec = result.Spec
    let out = StringBuilder()
    let line (text: string) = out.AppendLine text |> ignore
    line ("# " + CellText.title result)
    line ""
    line spec.Description
    line ""
    line (sprintf "Generated %s UTC. Seeds: %s. %s." (result.GeneratedUtc.ToString "yyyy-MM-dd HH:mm") (spec.Seeds |> List.map string |> String.concat ", ") (CellText.experimentSummary result))
    line ""
    line (sprintf "**Verdicts: %s.**" (CellText.statusSummary result))
    line ""
    if result.Quick then
        line (sprintf "> **%s run**: one seed per trained cell, not a finding; the default is %d seeds (drop `--quick` / `QUICK=1`)." (quickLabel result) Smec.Experiments.Catalog.Profiles.defaultSeedCount)
        line ""
    match threadNote result with
    | Some note -> line ("> Note: " + note + "."); line ""
    | None -> ()
    for note in spec.Notes do line ("- " + note)
    for rule in splitRuleNotes result do line ("- Split rule, " + rule)
    match result.ManifestPath with
    | Some p -> line (sprintf "- Embeddings manifest: `%s`." p)
    | None -> ()
    line ""
    line "## Reproduced table"
    line ""
    line (CellText.legend result)
    line ""
    for panel in spec.Panels do
        let unit = (result.Cells |> List.tryFind (fun c -> c.Cell.Panel = panel)) |> Option.map (fun c -> c.Cell.Display.Unit) |> Option.defaultValue ""
        line (sprintf "### %s%s" panel (if unit = "" then "" else sprintf " (%s)" unit))
        line ""
        frameTable out "" (Frames.panelFrame result panel (CellText.tableCell result))
    match CellText.reasons result with
    | [] -> ()
    | reasons ->
        line "### Why cells are not computed"
        line ""
        for s, reason, n in reasons do line (sprintf "- %s (%d check%s): %s" s n (if n = 1 then "" else "s") reason)
        line ""
    if not result.Published.IsEmpty then
        line "## Published values (the paper's, for reference)"
        line ""
        for panel in result.Published |> List.map (fun p -> p.Key.Panel) |> List.distinct do
            let sample = result.Published |> List.find (fun p -> p.Key.Panel = panel)
            let display =
                match sample.Unit with
                | "percent" -> { Display.percent with Unit = "x100" }
                | "fraction" -> Display.fraction
                | "ratio" -> Display.ratio
                | _ -> Display.scientific
            match Frames.publishedFrame result panel None display with
            | Some frame ->
                line (sprintf "### %s (%s; %s, %s)" panel sample.Key.Metric sample.Figure (Smec.Experiments.Catalog.Published.Source.name sample.Source))
                line ""
                frameTable out "" frame
            | None -> ()
    line "## Checks"
    line ""
    table out [ "panel"; "row"; "column"; "check"; "expected"; "actual"; "delta"; "tolerance / band"; "status"; "note" ]
        [ for c in result.Cells do
              for k in c.Checks ->
                  let d = c.Cell.Display
                  [ c.Cell.Panel; c.Cell.Row; c.Cell.Column; CheckKind.name k.Kind
                    CellText.optionalNumber d k.Expected; CellText.optionalNumber d k.Actual; CellText.signed d k.Delta
                    CellText.optionalNumber d k.Tolerance; Status.name k.Status; k.Note ] ]
    if not result.Claims.IsEmpty then
        line "## Claims"
        line ""
        match comparisonsNote result with
        | Some note -> line note; line ""
        | None -> ()
        table out [ "claim"; "panel"; "statement"; "comparisons (difference, Holm and 95% intervals)"; "status" ]
            [ for c in result.Claims -> [ c.Claim.Id; c.Claim.Panel; c.Claim.Text; c.Detail; Status.name c.Status ] ]
    if not result.Pairwise.IsEmpty then
        line "## Pairwise intervals"
        line ""
        line "Every pair of the trained methods and PCA at each cell a claim reads: row - column, Holm-adjusted within the matrix (unadjusted 95% in parentheses); intervals include seed and query variance."
        line ""
        out.Append(pairwiseTables "###" result.Pairwise) |> ignore
    match ProtocolTable.rows result with
    | [] -> ()
    | protocol ->
        line "## Protocol"
        line ""
        table out ProtocolTable.header (protocol |> List.map ProtocolTable.cells)
        for sentence in ProtocolTable.differences protocol do line ("- " + sentence)
        line ""
    line "## Rules"
    line ""
    for rule in CellText.rules do line ("- " + rule)
    line ""
    line "## Experiments"
    line ""
    table out [ "hash"; "experiment"; "outcome"; "seconds" ]
        [ for p in result.Planned ->
              let outcome, seconds =
                  match result.Outcomes.TryFind p.Hash with
                  | Some(Finished(r, cached)) -> (if cached then "cached" else "run"), sprintf "%.1f" r.Seconds
                  | Some(NotRun reason) -> "not run: " + reason, ""
                  | Some(Failed message) -> "FAILED: " + message, ""
                  | None -> "-", ""
              [ Smec.Experiments.Store.ConfigHash.short p.Hash; describe p.Config; outcome; seconds ] ]
    line "Full configs, seeds, package versions and data checksums: `results.json` beside this file and `results/cache/<hash>.json`."
    out.ToString()
