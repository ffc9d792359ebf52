/// "Kept start": a trained cell whose early stopping kept the untrained starting point (the best
/// validation score was the one before the first step, "best step 0"), so its number is the
/// initialisation's (e.g. PCA's), not a trained model's. Read from the settings each trained
/// method records (ICompressor.Settings):
/// - SMEC / MRL: `result.step<k>` = "in->out->[dims] val_ndcg10=... best_step=B ..." per chain step;
///   a dims column kept its start when the step that selects it (or outputs it) has B = 0.
/// - Search-Adaptor: `grid @<d>` = "point: score (step B); ..." per dims; kept start when every
///   grid point's B = 0.
/// - Matryoshka-Adaptor: `<stage> stage` = "... at step B of N ..." (one adaptor for every dims);
///   kept start when every stage's B = 0.
module Smec.Experiments.Verdicts.KeptStart

open System
open System.Text.RegularExpressions

let private smecStep = Regex(@"^(\d+)->(\d+)->\[([\d,]*)\].*\bbest_step=(\d+)", RegexOptions.Compiled)
let private gridStep = Regex(@"\(step (\d+)\)", RegexOptions.Compiled)
let private stageStep = Regex(@"\bat step (\d+) of \d+", RegexOptions.Compiled)

/// The dims of a measurement name such as "ndcg@10@48" (None for names without a trailing @d).
let dimsOfMeasure (measure: string) =
    match measure.LastIndexOf '@' with
    | -1 -> None
    | i ->
        match Int32.TryParse(measure.Substring(i + 1)) with
        | true, d -> Some d
        | _ -> None

/// Whether the training behind `dims` (None: any dims) kept its starting point, by the settings.
let kept (settings: Map<string, string>) (dims: int option) =
    let covers (selected: int list) = match dims with Some d -> List.contains d selected | None -> true
    let smec =
        [ for KeyValue(key, value) in settings do
              if key.StartsWith "result.step" then
                  let m = smecStep.Match value
                  if m.Success then
                      let selected =
                          int m.Groups.[2].Value
                          :: (m.Groups.[3].Value.Split(',', StringSplitOptions.RemoveEmptyEntries) |> Array.map int |> List.ofArray)
                      if covers selected then yield int m.Groups.[4].Value = 0 ]
    let grid =
        [ for KeyValue(key, value) in settings do
              if key.StartsWith "grid @" then
                  match Int32.TryParse(key.Substring "grid @".Length) with
                  | true, d when covers [ d ] ->
                      let steps = [ for m in gridStep.Matches value -> int m.Groups.[1].Value ]
                      if not steps.IsEmpty then yield steps |> List.forall ((=) 0)
                  | _ -> () ]
    let stages =
        [ for KeyValue(key, value) in settings do
              if key.EndsWith " stage" then
                  let m = stageStep.Match value
                  if m.Success then yield int m.Groups.[1].Value = 0 ]
    List.contains true smec
    || List.contains true grid
    || (not stages.IsEmpty && List.forall id stages)
