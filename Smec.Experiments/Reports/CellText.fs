/// How numbers and verdicts are printed, shared by the Markdown, terminal and HTML reports.
module Smec.Experiments.Reports.CellText

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Catalog.Published
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Running.TableRun
open Smec.Experiments.Running.Runner
open Smec.Experiments.Verdicts

/// The value with, over several seeds, its sample SD over seeds ("61.2 ±0.3").
let value (display: Display) (evaluation: Evaluation) =
    match evaluation with
    | Value v when v.PerSeed.Length > 1 -> sprintf "%s ±%s" (Display.format display v.Mean) (Display.format display v.Sd)
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
    let kept =
        match cell.KeptStart with
        | [] -> ""
        | seeds when seeds.Length >= result.Spec.Seeds.Length -> " [kept start]"
        | seeds -> sprintf " [kept start: seed %s]" (seeds |> List.map string |> String.concat ",")
    ours + paper + kept + verdict

/// How cells are read, for the line above the tables.
let legend (result: TableResult) =
    let seeds = result.Spec.Seeds.Length
    let quick = if result.Quick then sprintf " %s: a single run per trained cell, not a finding." (quickLabel result |> fun s -> s.ToUpperInvariant()) else ""
    sprintf "Each cell: our value (%s), the paper's value where the cell reproduces one, \"[kept start]\" where the model behind the value is its untrained start (every trained part that serves the dim selected step 0 on validation: one rule for every method), and the verdict.%s"
        (if seeds = 1 then "one seed" else sprintf "mean over %d seeds ± the sample standard deviation over seeds" seeds) quick

/// Distinct reasons for SKIPPED and FAIL cells, with how many cells each explains.
let reasons (result: TableResult) =
    [ for c in result.Cells do
          for k in c.Checks do
              if k.Status = Skipped || (k.Status = Fail && k.Actual.IsNone) then
                  // A published check's note carries the paper's source after " [paper: ": group by the reason alone.
                  let reason = match k.Note.IndexOf " [paper: " with -1 -> k.Note | i -> k.Note.Substring(0, i)
                  // A blessing of another configuration names both cell hashes (the report's checks table keeps
                  // them per cell); listed once per reason, 122 cells would give 122 lines that differ only there.
                  let reason = System.Text.RegularExpressions.Regex.Replace(reason, @" \(cell hash [0-9a-f]+, now [0-9a-f]+\)", "")
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
    let quick = match quickLabel result with "" -> "" | label -> sprintf " [%s]" (label.ToUpperInvariant())
    sprintf "Item %d (%s profile): %s%s" result.Spec.Item (Profile.name result.Spec.Profile) result.Spec.Title quick

/// The rules behind the verdicts, stated in every report.
let rules =
    [ sprintf "Claims: each comparison A rel B is judged on paired per-query scores (nDCG@10), with an interval that includes both sources of noise: which queries were judged and which seeds trained the models. The variance of the difference is the bootstrap variance of each level: queries resampled with replacement within each dataset, the same queries for every method, each query's score averaged over seeds; and seeds resampled per trained experiment with every query kept (corrected by S/(S-1)). For a difference or a mean (linear in the measurements) both are exact in closed form (popvar/n, the limit of infinitely many resamples); other statistics are resampled (%d resamples per level, seed %d). The interval is estimate +- t x SE, with Welch-Satterthwaite degrees of freedom. The item's comparisons are tested together: each verdict is read from its interval at the level Holm's step-down gives it (family-wise 5%%); the unadjusted 95%% interval is shown beside it. OK: the interval supports the claim (entirely above 0 for >= and >); FAIL: it supports the opposite; TIE: it contains 0 (counted apart, does not fail `make check`). A mean over datasets resamples each dataset's queries within that dataset and averages per-dataset means, each dataset weighted equally, as the panel does. A bound is judged on the interval of the quantity itself. Comparisons without per-query scores (probe measurements) compare seed means with a noise margin m = max(slack, seed SDs): the difference in the claim's direction above m: OK, below -m: FAIL, within: TIE." Bootstrap.DefaultResamples Bootstrap.DefaultSeed
      sprintf "Regression: band = max(floor, %g x sqrt(sd_b^2/n_b + sd_c^2/n_c)), sd and n the sample SD and count of the blessed (b) and current (c) seeds (a side with one seed borrows the other's SD); floor 1 nDCG point (0.01) for nDCG, covering machine-to-machine float order. Within the band: OK; worse beyond it: FAIL; better beyond it: IMPROVED (re-bless or explain; fails `make check`)." Profiles.regressionBandK
      "Published: tolerance = the published value's reading precision + a noise allowance; within: OK; 1x-1.5x: OK*; beyond, in either direction: FAIL (differs from the paper)." ]
