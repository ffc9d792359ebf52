/// "Kept start", one rule for every method: the value reported at a dim came from a model whose
/// selected checkpoint is its untrained start - every trained part that serves the dim selected
/// step 0 on validation - so the number is the initialisation's (e.g. PCA's), not a trained
/// model's. Read from the settings each trained method records (ICompressor.Settings):
/// `selected_steps@<d>` = "B1 B2 ..." (Smec.Core/Methods/SelectedSteps.cs), the selected step of every
/// trained part serving d, written by each trained method and, in a tuning grid, taken from the point
/// that serves d; the dim kept its start when every B is 0.
///
/// Results stored before that key are read from each method's own records (approximate under per-dim
/// selection and tuning grids, which they predate):
/// - SMEC / MRL: `result.step<k>` = "in->out->[dims] val_ndcg10=... best_step=B ..." per chain step;
///   the model at d is the chain up to the first step that outputs or selects d, and kept its
///   start when every one of those steps has B = 0 (a later step's PCA start of trained output is
///   not an untrained model).
/// - Search-Adaptor: `grid @<d>` = "point: score (step B); ..." per dims; the model at d is the grid
///   point with the best validation score (the first of equals, as the method selects), and kept
///   its start when that point's B = 0.
/// - Matryoshka-Adaptor: `<stage> stage` = "... at step B of N ..." (one adaptor for every dims);
///   kept its start when every stage's B = 0.
module Smec.Experiments.Verdicts.KeptStart

open System
open System.Text.RegularExpressions
open Smec.Core.Methods

let private smecStep = Regex(@"^(\d+)->(\d+)->\[([\d,]*)\].*\bbest_step=(\d+)", RegexOptions.Compiled)
let private gridPoint = Regex(@":\s*(-?[\d.]+)\s*\(step (\d+)\)", RegexOptions.Compiled)
let private stageStep = Regex(@"\bat step (\d+) of \d+", RegexOptions.Compiled)

/// The dims of a measurement name such as "ndcg@10@48" (None for names without a trailing @d).
let dimsOfMeasure (measure: string) =
    match measure.LastIndexOf '@' with
    | -1 -> None
    | i ->
        match Int32.TryParse(measure.Substring(i + 1)) with
        | true, d -> Some d
        | _ -> None

/// A result stored before `selected_steps@<d>`: read from each method's own records.
let private keptBefore (settings: Map<string, string>) (dims: int option) =
    let covers (selected: int list) = match dims with Some d -> List.contains d selected | None -> true
    let smecSteps =
        [ for KeyValue(key, value) in settings do
              if key.StartsWith "result.step" then
                  match Int32.TryParse(key.Substring "result.step".Length), smecStep.Match value with
                  | (true, k), m when m.Success ->
                      let selected =
                          int m.Groups.[2].Value
                          :: (m.Groups.[3].Value.Split(',', StringSplitOptions.RemoveEmptyEntries) |> Array.map int |> List.ofArray)
                      yield k, selected, int m.Groups.[4].Value
                  | _ -> () ]
        |> List.sortBy (fun (k, _, _) -> k)
    // The chain up to the first step that gives the dim (every step, when no dim is named).
    let smec =
        match smecSteps |> List.tryFindIndex (fun (_, selected, _) -> covers selected) with
        | Some last -> Some(smecSteps |> List.take (last + 1) |> List.forall (fun (_, _, best) -> best = 0))
        | None -> None
    let grid =
        [ for KeyValue(key, value) in settings do
              if key.StartsWith "grid @" then
                  match Int32.TryParse(key.Substring "grid @".Length) with
                  | true, d when covers [ d ] ->
                      let points =
                          [ for m in gridPoint.Matches value ->
                                Double.Parse(m.Groups.[1].Value, Globalization.CultureInfo.InvariantCulture), int m.Groups.[2].Value ]
                      // The method keeps a later point only when it scores strictly higher.
                      match points with
                      | [] -> ()
                      | first :: rest ->
                          let selected = rest |> List.fold (fun (bestScore, bestStep) (score, step) -> if score > bestScore then score, step else bestScore, bestStep) first
                          yield snd selected = 0
                  | _ -> () ]
    let stages =
        [ for KeyValue(key, value) in settings do
              if key.EndsWith " stage" then
                  let m = stageStep.Match value
                  if m.Success then yield int m.Groups.[1].Value = 0 ]
    smec = Some true
    || List.contains true grid
    || (not stages.IsEmpty && List.forall id stages)

/// Each dim's `selected_steps@<d>` record (empty for results stored before it).
let private selectedSteps (settings: Map<string, string>) =
    [ for KeyValue(key, value) in settings do
          if key.StartsWith SelectedSteps.Prefix then
              let steps = value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
              match Int32.TryParse(key.Substring SelectedSteps.Prefix.Length), steps |> Array.map Int32.TryParse with
              | (true, d), parsed when parsed.Length > 0 && parsed |> Array.forall fst -> yield d, parsed |> Array.map snd
              | _ -> failwithf "settings key '%s' is '%s'; expected %s<dim> = the selected steps as integers separated by spaces" key value SelectedSteps.Prefix ]

/// Today's record (`selected_steps@<d>`): the dim kept its start when every part serving it selected
/// step 0; with no dim named, when any dim did. A dim without a record is not served: not kept.
let private keptByRecord (records: (int * int[]) list) (dims: int option) =
    records
    |> List.filter (fun (dim, _) -> dims |> Option.forall ((=) dim))
    |> List.exists (fun (_, steps) -> steps |> Array.forall ((=) 0))

/// Whether the model behind `dims` (None: any dims) is its untrained start, by the settings.
let kept (settings: Map<string, string>) (dims: int option) =
    match selectedSteps settings with
    | [] -> keptBefore settings dims
    | records -> keptByRecord records dims
