/// The probes the `smec` command runs, and what is still pending.
module Smec.Experiments.Running.ProbeRunners

open System
open System.Globalization
open Smec.Core.Training
open Smec.Core.Methods.SmecMethod
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Probes

let private intOption (config: ExperimentConfig) (name: string) (defaultValue: int) =
    match config.Options.TryFind name with
    | None -> defaultValue
    | Some text ->
        match Int32.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> failwithf "gradient probe: option '%s' is '%s', expected an integer" name text

/// Item 8: GradientProbe (Smec.Core.Training) trains the toy FC layer under MRL and SMRL from the same
/// init and reports per-epoch gradient statistics; this turns its rows into the contract's names.
let gradientProbe (context: ProbeContext) : ProbeOutput =
    let config = context.Config
    let shared, full =
        match config.Options.TryFind "prefixes" |> Option.map (fun p -> p.Split ',' |> Array.map int) with
        | Some [| shared; full |] -> shared, full
        | None -> 96, 192
        | Some other -> failwithf "gradient probe: option 'prefixes' must be two dims 'shared,full', got %A" other
    if full <> intOption config "fc_out" full then failwith "gradient probe: option 'fc_out' must equal the larger prefix"
    let budget = config.Budget |> Option.defaultWith (fun () -> failwith "gradient probe: the experiment needs a training budget")
    let options =
        GradientProbeOptions(
            OutputDim = full,
            SharedDim = shared,
            Epochs = intOption config "epochs" 40,
            BatchSize = budget.BatchSize,
            LearningRate = budget.LearningRate
        )
    let rows = GradientProbe.Run(context.Data.Training, options) |> List.ofSeq
    let measurements =
        [ for variant, group in rows |> List.groupBy (fun r -> r.Method.ToLowerInvariant()) do
              let sorted = group |> List.sortBy (fun r -> r.Epoch)
              for r in sorted do
                  yield sprintf "%s.grad_shared@%d" variant r.Epoch, r.MeanAbsGradShared
                  yield sprintf "%s.grad_unshared@%d" variant r.Epoch, r.MeanAbsGradUnshared
                  yield sprintf "%s.grad_var@%d" variant r.Epoch, r.GradVarianceShared
                  yield sprintf "%s.grad_var_unshared@%d" variant r.Epoch, r.GradVarianceUnshared
                  yield sprintf "%s.loss@%d" variant r.Epoch, r.MeanTrainLoss
              yield sprintf "%s.loss@first" variant, (List.head sorted).MeanTrainLoss
              yield sprintf "%s.loss@last" variant, (List.last sorted).MeanTrainLoss
              yield sprintf "%s.grad_var_mean" variant, sorted |> List.averageBy (fun r -> r.GradVarianceShared) ]
    { Measurements = Map.ofList measurements
      Settings =
        Map.ofList
            [ "probe.output_dim", string full
              "probe.shared_dim", string shared
              "probe.epochs", string options.Epochs
              "probe.batch_size", string options.BatchSize
              "probe.learning_rate", options.LearningRate.ToString("R", CultureInfo.InvariantCulture)
              "probe.loss", string options.LossForm ]
      Notes = [ "MRL and SMRL trained from the same seeded init (Smec.Core.Training.GradientProbe)" ] }

type private Importance = Smec.Core.Analysis.DimensionImportance

/// Item 9: the importance of each dim on validation queries (the nDCG@10 drop when it is removed),
/// then, per d of config.Dims, the share of the d most important dims that the selection keeps:
/// ADS trained alone over the embedding's own dims ("smec") or the prefix ("truncation").
let dimensionImportance (context: ProbeContext) : ProbeOutput =
    let config = context.Config
    match config.Options.TryFind "importance" with
    | Some "validation-ndcg-drop" | None -> ()
    | Some other -> failwithf "importance probe: option 'importance' is '%s', expected validation-ndcg-drop" other
    use set = new TrainingSet(context.Data.Training, 30)
    let importance = Importance.ValidationNdcgDrop(set)
    let selectionOf (d: int) : int64[] * (string * string) list =
        match config.Method with
        | "truncation" -> Array.init d int64, []
        | "smec" ->
            let budget = config.Budget |> Option.defaultWith (fun () -> failwith "importance probe: ADS learns, so the experiment needs a training budget")
            let selection = EmbeddingDimensionSelector.Fit(set, d, SmecOptions(), MethodRegistry.trainingOptionsOf budget, config.Seed)
            selection.Indices,
            [ sprintf "ads@%d.validation_ndcg10" d, selection.ValidationNdcg10.ToString("F4", CultureInfo.InvariantCulture)
              sprintf "ads@%d.best_step" d, string selection.BestStep
              sprintf "ads@%d.indices" d, selection.Indices |> Array.map string |> String.concat "," ]
        | other -> failwithf "importance probe: method '%s' has no selection to judge (expected smec or truncation)" other
    let perDim = [ for d in config.Dims -> d, selectionOf d ]
    let top = Importance.MostImportant(importance, config.Dims |> List.max)
    { Measurements =
        Map.ofList
            [ for d, (selected, _) in perDim -> sprintf "important_share@%d" d, Importance.KeptShare(importance, selected) ]
      Settings =
        Map.ofList
            [ yield "probe.importance", "validation-ndcg-drop"
              yield "probe.validation_queries", string set.ValidationQueryRows.Length
              yield "probe.most_important", top |> Array.map string |> String.concat ","
              for _, (_, settings) in perDim do yield! settings ]
      Notes =
        [ "importance = validation nDCG@10 minus nDCG@10 with that dim zeroed (validation queries only; ties rank the lower index first, which favours the prefix)"
          if config.Method = "smec" then "ADS trained alone over the encoder's own dims (Smec.Core EmbeddingDimensionSelector), SMEC's loss and anneal" ] }

let standard : ProbeRegistry =
    { Runners =
        Map.ofList
            [ GradientProbe, { Run = gradientProbe; Implementation = "Smec.Core GradientProbe/1" }
              DimensionImportance, { Run = dimensionImportance; Implementation = "Smec.Core DimensionImportance/1" } ] }
