/// cells.csv (one row per check, every number on the harness's scale, written with CsvHelper) and
/// results.json (every cell, claim and experiment with its full config and stored result).
module Smec.Experiments.Reports.DataFiles

open System.Globalization
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open CsvHelper
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Running.Runner
open Smec.Experiments.Running.TableRun
open Smec.Experiments.Store
open Smec.Experiments.Verdicts

let private number (v: float) = if System.Double.IsNaN v then "" else v.ToString("R", CultureInfo.InvariantCulture)

let csv (result: TableResult) : string =
    use text = new StringWriter()
    (use writer = CsvWriter.Create(text, CsvWriterOptions(NewLine = "\n"))
     let header =
         [ "item"; "profile"; "run"; "panel"; "row"; "column"; "value"; "sd"; "seeds"; "per_seed"; "kept_start"; "check"
           "expected"; "delta"; "tolerance"; "status"; "note"; "unit"; "cell_hash"; "experiments" ]
     for h in header do writer.WriteField h
     writer.EndRecord()
     // Deedle frame of the checks, written row by row in the frame's order.
     let frame = Frames.checksFrame result
     for row in frame.Rows.Values do
         let text (name: string) = row.GetAs<string> name
         // Deedle reads NaN (no expected value, no delta) as a missing value.
         let value (name: string) =
             match row.TryGetAs<float> name with
             | Deedle.OptionalValue.Present v -> number v
             | _ -> ""
         writer.WriteField(string (row.GetAs<int> "Item"))
         for name in [ "Profile"; "Run"; "Panel"; "Row"; "Column" ] do writer.WriteField(text name)
         writer.WriteField(value "Value")
         writer.WriteField(value "Sd")
         writer.WriteField(string (row.GetAs<int> "Seeds"))
         writer.WriteField(text "PerSeed")
         writer.WriteField(text "KeptStart")
         writer.WriteField(text "Check")
         for name in [ "Expected"; "Delta"; "Tolerance" ] do writer.WriteField(value name)
         for name in [ "Status"; "Note"; "Unit"; "CellHash"; "Experiments" ] do writer.WriteField(text name)
         writer.EndRecord())
    text.ToString()

let private str (s: string) = JsonValue.Create s :> JsonNode
// NaN and infinity have no JSON number: null (an infinite df is "no seed level", said by "seeds").
let private num (v: float) : JsonNode = if System.Double.IsNaN v || System.Double.IsInfinity v then null else JsonValue.Create v
let private opt (v: float option) : JsonNode = match v with Some x -> num x | None -> null
let private arr (nodes: JsonNode seq) = let a = JsonArray() in (for n in nodes do a.Add n); a :> JsonNode
let private obj (pairs: (string * JsonNode) list) = JsonObject(pairs |> List.map (fun (k, v) -> System.Collections.Generic.KeyValuePair(k, v))) :> JsonNode

let json (result: TableResult) : string =
    let spec = result.Spec
    let cells =
        [ for c in result.Cells ->
              let value, spread, perSeed, gap =
                  match c.Value with
                  | Value v -> num v.Mean, num v.Sd, arr (v.PerSeed |> List.map num), null
                  | Gap g -> null, null, arr [], obj [ "failed", JsonValue.Create g.Failed :> JsonNode; "reason", str g.Reason ]
              obj
                  [ "panel", str c.Cell.Panel
                    "row", str c.Cell.Row
                    "column", str c.Cell.Column
                    "value", value
                    "sd", spread
                    "per_seed", perSeed
                    "kept_start_seeds", arr (c.KeptStart |> List.map (fun s -> JsonValue.Create s :> JsonNode))
                    "missing", gap
                    "unit", str c.Cell.Display.Unit
                    "display_factor", num c.Cell.Display.Factor
                    "cell_hash", str c.CellHash
                    "computes", ConfigHash.quantityJson c.Cell.Value
                    "experiments", arr (c.Experiments |> List.map str)
                    "checks",
                    arr
                        [ for k in c.Checks ->
                              obj
                                  [ "kind", str (CheckKind.name k.Kind)
                                    "expected", opt k.Expected
                                    "actual", opt k.Actual
                                    "delta", opt k.Delta
                                    "tolerance", opt k.Tolerance
                                    "status", str (Status.name k.Status)
                                    "note", str k.Note ] ] ] ]
    let intervalJson (i: Bootstrap.Interval) : JsonNode =
        obj [ "estimate", num i.Estimate; "low", num i.Low; "high", num i.High; "level", num i.Level
              "standard_error", num i.StandardError; "df", num i.Df
              // Resamples 0: each level's bootstrap variance in closed form (a linear statistic, Bootstrap.linearSeedQueryInterval).
              "variance", str (if i.Resamples = 0 then "closed form" else "resampled")
              "resamples", (JsonValue.Create i.Resamples :> JsonNode); "queries", (JsonValue.Create i.Queries :> JsonNode)
              "seeds", (JsonValue.Create i.Seeds :> JsonNode); "p_value", num i.PValue ]
    let claims =
        [ for c in result.Claims ->
              obj
                  [ "id", str c.Claim.Id; "panel", str c.Claim.Panel; "statement", str c.Claim.Text; "numbers", str c.Detail
                    "status", str (Status.name c.Status)
                    "comparisons",
                    arr
                        [ for l in c.Links ->
                              obj
                                  [ "left", str l.Left; "relation", str (Relation.symbol l.Relation); "right", str l.Right
                                    "left_value", num l.LeftValue; "right_value", num l.RightValue
                                    "interval",
                                    (match l.Interval with Some i -> intervalJson i | None -> null)
                                    "adjusted_interval", (match l.Adjusted with Some i -> intervalJson i | None -> null)
                                    "status", str (Status.name l.Status); "rule", str l.Rule ] ] ] ]
    let experiments =
        [ for p in result.Planned ->
              let outcome, stored =
                  match result.Outcomes.TryFind p.Hash with
                  | Some(Finished(r, cached)) -> str (if cached then "cached" else "run"), (ResultStore.toJsonWith false r :> JsonNode)
                  | Some(NotRun reason) -> str ("not run: " + reason), null
                  | Some(Failed message) -> str ("failed: " + message), null
                  | None -> str "-", null
              obj
                  [ "hash", str p.Hash
                    "config", (ConfigHash.toJson p.Config :> JsonNode)
                    "outcome", outcome
                    "result", stored ] ]
    let published =
        [ for p in result.Published ->
              obj
                  [ "panel", str p.Key.Panel; "row", str p.Key.Row; "encoder", str p.Key.Encoder; "metric", str p.Key.Metric
                    "x", (JsonValue.Create p.Key.X :> JsonNode); "value", num p.Value; "unit", str p.Unit
                    "source", str (Smec.Experiments.Catalog.Published.Source.name p.Source); "precision", num p.Precision
                    "figure", str p.Figure; "note", str p.Note ] ]
    let root =
        obj
            [ "item", (JsonValue.Create spec.Item :> JsonNode)
              "profile", str (Profile.name spec.Profile)
              "title", str spec.Title
              "description", str spec.Description
              "generated_utc", str (result.GeneratedUtc.ToString "o")
              "seeds", arr (spec.Seeds |> List.map (fun s -> JsonValue.Create s :> JsonNode))
              "quick", (JsonValue.Create result.Quick :> JsonNode)
              "torch_threads", arr (result.ThreadCounts |> List.map (fun (t, n) -> obj [ "threads", (JsonValue.Create t :> JsonNode); "experiments", (JsonValue.Create n :> JsonNode) ]))
              "rules", arr (CellText.rules |> List.map str)
              "manifest", (match result.ManifestPath with Some p -> str p | None -> null)
              "blessed", str result.BlessedPath
              "cells", arr cells
              "claims", arr claims
              "experiments", arr experiments
              "published", arr published ]
    root.ToJsonString(JsonSerializerOptions(WriteIndented = true))
