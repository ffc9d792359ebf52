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

/// Every numeric option of a training run, before any data is read.
let options (smec: SmecOptions) (training: TrainingOptions) (validationQueries: int) =
    let rules =
        [ whole "--max-steps" training.MaxSteps 1
          // A batch holds (query, positive) pairs and the others as negatives: one pair has none.
          whole "--batch-size" training.BatchSize 2
          positive "--lr" training.LearningRate
          nonNegative "--weight-decay" training.WeightDecay
          whole "--hard-negatives" training.HardNegativesPerQuery 0
          whole "--eval-every" training.EvaluateEvery 1
          whole "--patience" training.Patience 1
          whole "--validation-queries" validationQueries 1
          positive "--loss-temperature" smec.LossTemperature
          nonNegative "--similarity-weight" smec.SimilarityWeight
          positive "--ads-lr-scale" smec.AdsLearningRateScale
          positive "--ads-temperature (start)" smec.AdsTemperatureStart
          positive "--ads-temperature (end)" smec.AdsTemperatureEnd
          whole "--ads-anneal-steps" smec.AdsAnnealSteps 0
          nonNegative "--sxbm-weight" smec.SxbmWeight
          whole "--sxbm-capacity" smec.SxbmCapacity 1
          whole "--sxbm-top-k" smec.SxbmTopK 1
          whole "--sxbm-warmup" smec.SxbmWarmupSteps 0 ]
    match rules |> List.tryFind (fun r -> not r.Holds) with
    | Some r -> userError "%s: %s is out of range; expected %s" r.Flag r.Value r.Expected
    | None ->
        if training.HardNegativesPerQuery > training.HardNegativePool then
            userError "--hard-negatives: %d exceeds the pool of %d mined negatives per query; expected at most %d"
                training.HardNegativesPerQuery training.HardNegativePool training.HardNegativePool

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
