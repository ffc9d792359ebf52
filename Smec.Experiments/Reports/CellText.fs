/// How numbers and verdicts are printed, shared by the Markdown, terminal and HTML reports.
module Smec.Experiments.Reports.CellText

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Published
open Smec.Experiments.Running.Checks
open Smec.Experiments.Running.Quantities
open Smec.Experiments.Running.TableRun
open Smec.Experiments.Running.Runner

/// The value with, over several seeds, half its seed range ("61.2 ±0.3").
let value (display: Display) (evaluation: Evaluation) =
    match evaluation with
    | Value v when v.PerSeed.Length > 1 -> sprintf "%s ±%s" (Display.format display v.Mean) (Display.format display (v.Spread / 2.0))
    | Value v -> Display.format display v.Mean
    | Gap g when g.Failed -> "FAIL"
    | Gap _ -> "SKIPPED"

let optionalNumber (display: Display) (v: float option) =
    match v with
    | Some x -> Display.format display x
    | None -> ""

let signed (display: Display) (v: float option) =
    match v with
    | Some x when x >= 0.0 -> "+" + Display.format display x
    | Some x -> Display.format display x
    | None -> ""

let status (s: Status option) =
    match s with
    | Some s -> Status.name s
    | None -> "-"

/// The published value a cell reproduces, if any, formatted like the cell.
let publishedOf (result: TableResult) (cell: CellResult) =
    cell.Cell.Published
    |> Option.bind (fun key -> result.Published |> List.tryFind (fun p -> p.Key = key))
    |> Option.map (fun p -> Display.format cell.Cell.Display (scaled p))

/// A cell in the reproduced table: ours, then the paper's value when the cell names one, then its verdict.
let tableCell (result: TableResult) (cell: CellResult) =
    let ours = value cell.Cell.Display cell.Value
    let paper = match publishedOf result cell with Some p -> sprintf " (paper %s)" p | None -> ""
    let verdict =
        match cell.Status with
        | Some s when s <> Skipped && not (ours = "FAIL" && s = Fail) -> " " + Status.name s
        | _ -> ""
    ours + paper + verdict

/// Distinct reasons for SKIPPED and FAIL cells, with how many cells each explains.
let reasons (result: TableResult) =
    [ for c in result.Cells do
          for k in c.Checks do
              if k.Status = Skipped || (k.Status = Fail && k.Actual.IsNone) then
                  // A published check's note carries the paper's source after " [paper: ": group by the reason alone.
                  let reason = match k.Note.IndexOf " [paper: " with -1 -> k.Note | i -> k.Note.Substring(0, i)
                  yield Status.name k.Status, reason ]
    |> List.countBy id
    |> List.map (fun ((s, reason), n) -> s, reason, n)

/// "14 experiments: 12 cached, 1 run, 1 skipped, 0 failed".
let experimentSummary (result: TableResult) =
    let outcomes = result.Planned |> List.choose (fun p -> result.Outcomes.TryFind p.Hash)
    let count f = outcomes |> List.filter f |> List.length
    sprintf "%d experiments: %d cached, %d run, %d not run, %d failed" outcomes.Length
        (count (function Finished(_, true) -> true | _ -> false))
        (count (function Finished(_, false) -> true | _ -> false))
        (count (function NotRun _ -> true | _ -> false))
        (count (function Failed _ -> true | _ -> false))

let statusSummary (result: TableResult) =
    Frames.statusCounts result |> List.map (fun (s, n) -> sprintf "%d %s" n s) |> String.concat ", "

let title (result: TableResult) =
    sprintf "Item %d (%s profile): %s" result.Spec.Item (Profile.name result.Spec.Profile) result.Spec.Title
