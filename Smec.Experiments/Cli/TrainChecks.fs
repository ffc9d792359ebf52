/// `smec train`'s options and data checked before anything trains, in the flags the user wrote
/// (`--lr`, `--batch-size`): the libraries below check their own fields too, but name them as
/// their code does (LearningRate), and a batch of one pair reaches libtorch, which aborts natively.
module Smec.Experiments.Cli.TrainChecks

open System
open System.IO
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Methods.SmecMethod
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Experiments.Cli.UserErrors

/// One rule: the flag, its value as text, whether it holds, what is expected.
type private Rule = { Flag: string; Value: string; Holds: bool; Expected: string }

let private whole flag (value: int) minimum =
    { Flag = flag; Value = string value; Holds = value >= minimum; Expected = sprintf "a whole number >= %d" minimum }

let private positive flag (value: float) =
    { Flag = flag; Value = string value; Holds = value > 0.0 && Double.IsFinite value; Expected = "a finite number > 0" }

let private nonNegative flag (value: float) =
    { Flag = flag; Value = string value; Holds = value >= 0.0 && Double.IsFinite value; Expected = "a finite number >= 0" }

/// Method options with a numeric range, by the flag `smec train` offers for each (an option the
/// method lacks is not checked; `--option NAME=VALUE` sets the same names).
let private optionRanges =
    [ "--loss-temperature", "loss_temperature", (fun flag v -> positive flag v)
      "--similarity-weight", "similarity_weight", nonNegative
      "--ads-lr-scale", "ads_learning_rate_scale", positive
      "--ads-temperature (start)", "ads_temperature_start", positive
      "--ads-temperature (end)", "ads_temperature_end", positive
      "--ads-anneal-steps", "ads_anneal_steps", (fun flag v -> whole flag (int v) 0)
      "--sxbm-weight", "sxbm_weight", nonNegative
      "--sxbm-capacity", "sxbm_capacity", (fun flag v -> whole flag (int v) 1)
      "--sxbm-top-k", "sxbm_top_k", (fun flag v -> whole flag (int v) 1)
      "--sxbm-warmup", "sxbm_warmup_steps", (fun flag v -> whole flag (int v) 0)
      "--weight-decay", "weight_decay", nonNegative
      "--hard-negatives", "hard_negatives_per_query", (fun flag v -> whole flag (int v) 0) ]

/// Every numeric option of a training run (the budget and the method's resolved options), before
/// any data is read.
let options (budget: Smec.Experiments.Catalog.Model.TrainingBudget) (methodOptions: Map<string, string>) (validationQueries: int) =
    let number (text: string) = Double.Parse(text, Globalization.CultureInfo.InvariantCulture)
    let rules =
        [ yield whole "--max-steps" budget.MaxSteps 1
          // A batch holds (query, positive) pairs and the others as negatives: one pair has none.
          yield whole "--batch-size" budget.BatchSize 2
          yield positive "--lr" budget.LearningRate
          yield whole "--eval-every" budget.ValidateEvery 1
          yield whole "--patience" budget.Patience 1
          yield whole "--validation-queries" validationQueries 1
          for flag, name, rule in optionRanges do
              match methodOptions.TryFind name with
              | Some text -> yield rule (sprintf "%s (option %s)" flag name) (number text)
              | None -> () ]
    match rules |> List.tryFind (fun r -> not r.Holds) with
    | Some r -> userError "%s: %s is out of range; expected %s" r.Flag r.Value r.Expected
    | None ->
        let pool = TrainingOptions().HardNegativePool
        match methodOptions.TryFind "hard_negatives_per_query" with
        | Some text when int (number text) > pool ->
            userError "--hard-negatives: %s exceeds the pool of %d mined negatives per query; expected at most %d" text pool pool
        | _ -> ()

/// The train qrels against the embeddings and the options: every judged query and document has a
/// row, enough queries remain after the validation hold-out, and a batch holds at least two pairs.
let data (qrelsFile: string) (corpus: EmbeddingMatrix) (queries: EmbeddingMatrix) (train: Qrels) (validationQueries: int) =
    let queryRows, docRows = queries.IndexById(), corpus.IndexById()
    for q in train.QueryIds |> Seq.sort do
        if not (queryRows.ContainsKey q) then
            userError "%s: query '%s' has no row in queries.ids.txt; expected the train qrels to judge only queries that have embeddings" qrelsFile q
        for KeyValue(d, _) in train.ForQuery q do
            if not (docRows.ContainsKey d) then
                userError "%s: query '%s' judges document '%s', which has no row in corpus.ids.txt; expected documents that have embeddings" qrelsFile q d
    let judged = train.QueryIds |> Seq.filter (fun q -> train.ForQuery q |> Seq.exists (fun kv -> kv.Value > 0)) |> Seq.length
    if validationQueries >= train.QueryCount then
        userError "--validation-queries: %d held out, but %s judges %d queries; expected fewer, so that some are left to train on" validationQueries qrelsFile train.QueryCount
    if judged < 2 then
        userError "%s: %d queries with a relevant document; expected at least 2 to form a training batch" qrelsFile judged

/// After the hold-out is carved: the pairs left must fill a batch of at least two.
let carved (qrelsFile: string) (data: TrainingData) =
    let pairs = data.Train.QueryIds |> Seq.sumBy (fun q -> data.Train.ForQuery q |> Seq.filter (fun kv -> kv.Value > 0) |> Seq.length)
    if pairs < 2 then
        userError "--validation-queries: after the hold-out, %s leaves %d judged (query, document) pairs to train on; expected at least 2 (a batch needs two pairs)" qrelsFile pairs
