/// The probes the `smec` command runs, and what is still pending.
module Smec.Experiments.Running.ProbeRunners

open System
open System.Globalization
open Smec.Core.Training
open Smec.Core.Analysis
open Smec.Core.Methods.SmecMethod
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Probes
open Smec.Experiments.Methods

let private intOption (config: ExperimentConfig) (name: string) (defaultValue: int) =
    match config.Options.TryFind name with
    | None -> defaultValue
    | Some text ->
        match Int32.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> failwithf "gradient probe: option '%s' is '%s', expected an integer" name text

/// Item 8: GradientProbe (Smec.Core.Analysis) trains the toy FC layer under MRL and SMRL from the same
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
    let meanTerms =
        match config.Options.TryFind "loss_terms" with
        | None | Some "mean" -> true
        | Some "sum" -> false
        | Some other -> failwithf "gradient probe: option 'loss_terms' is '%s', expected mean (each loss term weighs as SMRL's one) or sum" other
    let options =
        GradientProbeOptions(
            OutputDim = full,
            SharedDim = shared,
            Epochs = intOption config "epochs" 40,
            BatchSize = budget.BatchSize,
            LearningRate = budget.LearningRate,
            NormalisePerLossTerm = meanTerms
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
              "probe.loss", string options.LossForm
              "probe.loss_terms",
              (if meanTerms then "mean: MRL's loss is (L(full) + L(shared)) / 2, each term weighing as SMRL's single L(full)"
               else "sum: MRL's loss is L(full) + L(shared) against SMRL's L(full) (a sum of two losses has larger gradients by construction)") ]
      Notes =
        [ "MRL and SMRL trained from the same seeded init (Smec.Core.Analysis.GradientProbe)"
          if meanTerms then "like with like: MRL's nested losses are averaged, so its gradients are per loss term as SMRL's are" ] }

type private Importance = Smec.Core.Analysis.DimensionImportance
type private Subsets = Smec.Core.Analysis.DimensionSubsets

/// Item 9: judge a selection of the encoder's own dims directly. Per d of config.Dims: the nDCG@10 of
/// retrieval with only the selected dims on the validation queries and on the test queries (the test
/// split only scores fixed selections; nothing is chosen on it), the share of the d most important
/// dims it keeps (importance = the validation nDCG@10 drop when a dim is zeroed; ties broken at random
/// with option tie_seed, so no selection is favoured), the share that lies in the prefix 0..d-1, and
/// the chance level d / D. Methods: SMEC's key (ADS trained alone over the dims), truncation's (the
/// prefix), "random" (option random_subsets seeded subsets of size d: their mean, and sd/min/max).
let dimensionImportance (context: ProbeContext) : ProbeOutput =
    let config = context.Config
    match config.Options.TryFind "importance" with
    | Some "validation-ndcg-drop" | None -> ()
    | Some other -> failwithf "importance probe: option 'importance' is '%s', expected validation-ndcg-drop" other
    let intOf name fallback =
        match config.Options.TryFind name with
        | None -> fallback
        | Some text ->
            match Int32.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) with
            | true, v when v >= 1 -> v
            | _ -> failwithf "importance probe: option '%s' is '%s', expected a positive integer" name text
    let tieSeed = intOf "tie_seed" 1
    let randomCount = intOf "random_subsets" 20
    let data = context.Data
    use set = new TrainingSet(data.Training, 30)
    let importance = Importance.ValidationNdcgDrop(set)
    let width = set.Dim
    let search = Smec.Core.Retrieval.SearchOptions(IgnoreIdenticalIds = data.DropSelfMatches)
    let validationQueries = data.Training.Queries.Select(set.ValidationQueryRows |> Array.map (fun r -> data.Training.Queries.Ids.[r]))
    let testCorpus = data.TestCorpus |> Option.defaultValue data.Training.Corpus
    let scoreOf (dims: int64[]) =
        Subsets.Ndcg10(validationQueries, data.Training.Corpus, data.Training.Validation, dims, search),
        Subsets.Ndcg10(data.TestQueries, testCorpus, data.Test, dims, search)
    let prefixShare (d: int) (dims: int64[]) = float (dims |> Array.filter (fun i -> i < int64 d) |> Array.length) / float d
    let f4 (v: float) = v.ToString("F4", CultureInfo.InvariantCulture)
    let perDim (d: int) : (string * float) list * (string * string) list =
        let one (dims: int64[]) =
            let validation, test = scoreOf dims
            [ sprintf "important_share@%d" d, Importance.KeptShare(importance, dims, tieSeed)
              sprintf "subset_val_ndcg@%d" d, validation
              sprintf "subset_test_ndcg@%d" d, test
              sprintf "prefix_overlap@%d" d, prefixShare d dims
              sprintf "chance_share@%d" d, float d / float width ]
        match config.Method with
        | key when key = MethodRegistry.truncation.Key -> one (Array.init d int64), []
        | key when key = MethodRegistry.smec.Key ->
            let budget = config.Budget |> Option.defaultWith (fun () -> failwith "importance probe: ADS learns, so the experiment needs a training budget")
            let selection = EmbeddingDimensionSelector.Fit(set, d, SmecOptions(), MethodRegistry.trainingOptionsOf budget, config.Seed)
            one selection.Indices,
            [ sprintf "ads@%d.validation_ndcg10" d, f4 selection.ValidationNdcg10
              sprintf "ads@%d.best_step" d, string selection.BestStep
              sprintf "ads@%d.chosen" d, selection.Chosen
              sprintf "ads@%d.grid" d, selection.Grid
              sprintf "ads@%d.indices" d, selection.Indices |> Array.map string |> String.concat "," ]
        | "random" ->
            let subsets = Subsets.Random(width, d, randomCount, tieSeed + d)
            let rows = subsets |> Array.map (fun dims -> let v, t = scoreOf dims in Importance.KeptShare(importance, dims, tieSeed), v, t, prefixShare d dims)
            let dist (pick: float * float * float * float -> float) = Smec.Core.Analysis.Distribution.Of(rows |> Array.map pick)
            let stats name (x: Smec.Core.Analysis.Distribution) =
                [ sprintf "%s@%d" name d, x.Mean; sprintf "%s_sd@%d" name d, x.Sd; sprintf "%s_min@%d" name d, x.Min; sprintf "%s_max@%d" name d, x.Max ]
            stats "important_share" (dist (fun (s, _, _, _) -> s))
            @ stats "subset_val_ndcg" (dist (fun (_, v, _, _) -> v))
            @ stats "subset_test_ndcg" (dist (fun (_, _, t, _) -> t))
            @ [ sprintf "prefix_overlap@%d" d, (dist (fun (_, _, _, p) -> p)).Mean; sprintf "chance_share@%d" d, float d / float width ],
            [ sprintf "random@%d.subsets" d, string randomCount ]
        | other -> failwithf "importance probe: method '%s' has no selection to judge (expected smec, truncation or random)" other
    let results = [ for d in config.Dims -> perDim d ]
    let top = Importance.MostImportant(importance, config.Dims |> List.max, tieSeed)
    let ties = importance |> Array.countBy id |> Array.filter (fun (_, n) -> n > 1) |> Array.sumBy snd
    { Measurements = results |> List.collect fst |> Map.ofList
      Settings =
        Map.ofList
            [ yield "probe.importance", "validation-ndcg-drop"
              yield "probe.validation_queries", string set.ValidationQueryRows.Length
              yield "probe.tie_seed", string tieSeed
              yield "probe.tied_dims", string ties
              yield "probe.most_important", top |> Array.map string |> String.concat ","
              for _, settings in results do yield! settings ]
      Notes =
        [ sprintf "importance = validation nDCG@10 minus nDCG@10 with that dim zeroed (validation queries only); %d of %d dims share their importance value with another dim, ties broken at random (seed %d)" ties width tieSeed
          "subset nDCG@10: retrieval with only the selected dims (validation queries; test queries only score the fixed selections)"
          if config.Method = MethodRegistry.smec.Key then "ADS trained alone over the encoder's own dims (Smec.Core EmbeddingDimensionSelector), SMEC's loss forms, ADS initialisations and anneal, chosen on validation"
          if config.Method = "random" then sprintf "%d random subsets per size (seeded): mean, sd, min, max" randomCount ] }

let standard : ProbeRegistry =
    { Runners =
        Map.ofList
            [ GradientProbe, { Run = gradientProbe; Implementation = "Smec.Core GradientProbe/2" }
              DimensionImportance, { Run = dimensionImportance; Implementation = "Smec.Core DimensionImportance/2" } ] }
