/// The tabular side of a report as Deedle frames: one row per check (the CSV and the Markdown
/// checks table), and per panel the reproduced table itself (rows x columns).
module Smec.Experiments.Reports.Frames

open Deedle
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Running.TableRun

/// One check of one cell (a cell without checks has one row with an empty check).
type CheckRow =
    { Item: int
      Profile: string
      Panel: string
      Row: string
      Column: string
      /// Mean over seeds, on the harness's scale (nDCG as a fraction); NaN when missing.
      Value: float
      /// Sample SD over seeds (0 with one seed).
      Sd: float
      Seeds: int
      /// Every seed's value, ';'-separated.
      PerSeed: string
      /// "quick (1 seed)" for a quick run's numbers, else "".
      Run: string
      /// Seeds whose training kept its untrained start (';'-separated), else "".
      KeptStart: string
      Check: string
      Expected: float
      Delta: float
      Tolerance: float
      Status: string
      Note: string
      Unit: string
      CellHash: string
      Experiments: string }

let private orNan = Option.defaultValue nan

let checkRows (result: TableResult) : CheckRow list =
    [ for c in result.Cells do
          let value, spread, seeds =
              match c.Value with
              | Value v -> v.Mean, v.Sd, v.PerSeed.Length
              | Gap _ -> nan, nan, 0
          let row (check: CheckResult option) =
              { Item = result.Spec.Item
                Profile = Profile.name result.Spec.Profile
                Panel = c.Cell.Panel
                Row = c.Cell.Row
                Column = c.Cell.Column
                Value = value
                Sd = spread
                Seeds = seeds
                PerSeed =
                    (match c.Value with
                     | Value v -> v.PerSeed |> List.map (fun x -> x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)) |> String.concat ";"
                     | Gap _ -> "")
                Run = quickLabel result
                KeptStart = c.KeptStart |> List.map string |> String.concat ";"
                Check = check |> Option.map (fun k -> CheckKind.name k.Kind) |> Option.defaultValue ""
                Expected = check |> Option.bind (fun k -> k.Expected) |> orNan
                Delta = check |> Option.bind (fun k -> k.Delta) |> orNan
                Tolerance = check |> Option.bind (fun k -> k.Tolerance) |> orNan
                Status = check |> Option.map (fun k -> Status.name k.Status) |> Option.defaultValue ""
                Note = check |> Option.map (fun k -> k.Note) |> Option.defaultValue ""
                Unit = c.Cell.Display.Unit
                CellHash = c.CellHash
                Experiments = c.Experiments |> String.concat ";" }
          match c.Checks with
          | [] -> yield row None
          | checks -> for k in checks -> row (Some k) ]

let checksFrame (result: TableResult) : Frame<int, string> = Frame.ofRecords (checkRows result)

/// A panel as a frame of display texts, rows and columns in the catalog's order.
let panelFrame (result: TableResult) (panel: string) (text: CellResult -> string) : Frame<string, string> =
    let cells = result.Cells |> List.filter (fun c -> c.Cell.Panel = panel)
    let present (keys: string list) (pick: CellResult -> string) =
        keys |> List.filter (fun k -> cells |> List.exists (fun c -> pick c = k))
    let rows = present result.Spec.Rows (fun c -> c.Cell.Row)
    let columns = present result.Spec.Columns (fun c -> c.Cell.Column)
    let frame = Frame.ofValues [ for c in cells -> c.Cell.Row, c.Cell.Column, text c ]
    let ordered = frame |> Frame.realignRows rows
    Frame.ofColumns [ for col in columns -> col, ordered.GetColumn<string> col ]
    |> Frame.realignRows rows

/// The published values of a panel as a frame of display texts (rows x dims).
let publishedFrame (result: TableResult) (panel: string) (encoder: string option) (display: Display) : Frame<string, string> option =
    let values =
        result.Published
        |> List.filter (fun p -> p.Key.Panel = panel && (encoder.IsNone || Some p.Key.Encoder = encoder))
    if values.IsEmpty then None
    else
        // A row is named by what distinguishes it within the panel: encoder and metric where they vary.
        let varies (f: Smec.Experiments.Catalog.Published.PublishedValue -> string) = values |> List.map f |> List.distinct |> List.length > 1
        let byEncoder, byMetric = encoder.IsNone && varies (fun v -> v.Key.Encoder), varies (fun v -> v.Key.Metric)
        let rowName (p: Smec.Experiments.Catalog.Published.PublishedValue) =
            [ (if byEncoder then Some p.Key.Encoder else None); Some p.Key.Row; (if byMetric then Some p.Key.Metric else None) ]
            |> List.choose id
            |> String.concat " "
        let rows = values |> List.map rowName |> List.distinct
        let frame =
            Frame.ofValues
                [ for p in values ->
                      rowName p, string p.Key.X, Display.format display (Smec.Experiments.Catalog.Published.scaled p) ]
        let columns = values |> List.map (fun p -> p.Key.X) |> List.distinct |> List.sort |> List.map string
        Some(Frame.ofColumns [ for col in columns -> col, frame.GetColumn<string> col ] |> Frame.realignRows rows)

/// Counts of each status over checks and claims.
let statusCounts (result: TableResult) =
    let statuses = result.Statuses |> List.map Status.name
    [ for s in Status.all |> List.map Status.name -> s, statuses |> List.filter ((=) s) |> List.length ]

/// A frame's text at (row, column), or "" where the panel has no cell.
let textAt (frame: Frame<string, string>) (row: string) (column: string) =
    match frame.TryGetColumn<string>(column, Lookup.Exact) with
    | OptionalValue.Present series ->
        match series.TryGet row with
        | OptionalValue.Present text -> text
        | _ -> ""
    | _ -> ""
