/// The probes the `smec` command runs, and what is still pending.
module Smec.Experiments.Running.ProbeRunners

open System
open System.Globalization
open Smec.Core.Training
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Probes

let private intOption (config: ExperimentConfig) (name: string) (defaultValue: int) =
    match config.Options.TryFind name with
    | None -> defaultValue
    | Some text ->
        match Int32.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> failwithf "gradient probe: option '%s' is '%s', expected an integer" name text

/// Item 8: GradientProbe (branch smec) trains the toy FC layer under MRL and SMRL from the same
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

let standard : ProbeRegistry =
    { Runners = Map.ofList [ GradientProbe, { Run = gradientProbe; Implementation = "Smec.Core GradientProbe/1" } ]
      Pending =
        Map.ofList
            [ DimensionImportance,
              "the importance probe needs ADS's selection over the embedding's own dims (Smec.Core/Methods/Smec/AdaptiveDimensionSelection) exposed to the catalog; not implemented yet" ] }
