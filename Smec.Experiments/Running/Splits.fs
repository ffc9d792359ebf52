/// Query splits that do not depend on the training seed, so every method and every seed sees the
/// same train / validation / test. Validation queries are held out by the training loop's
/// ValidationSplit with a fixed seed; datasets without a train split are halved by the SHA-256 of
/// a salt and each query id.
module Smec.Experiments.Running.Splits

open System
open Smec.Core.Data
open Smec.Core.Training
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Store

/// The seed of the validation hold-out: fixed, not the training seed (as the training loop's tests use).
[<Literal>]
let ValidationSeed = 0L
[<Literal>]
let HalvesSalt = "smec-query-halves-v1"

/// Ids in the order of their salted hash (ties, impossible in practice, by ordinal id).
let hashOrder (salt: string) (ids: string seq) =
    ids
    |> Seq.map (fun id -> ConfigHash.sha256Hex (salt + "\n" + id), id)
    |> Seq.sortWith (fun (ha, ia) (hb, ib) -> match String.CompareOrdinal(ha, hb) with 0 -> String.CompareOrdinal(ia, ib) | c -> c)
    |> Seq.map snd
    |> List.ofSeq

/// Query ids of the three parts (test never reaches training).
type QuerySplit =
    { Train: string list
      Validation: string list
      Test: string list }

/// Validation size of a query-halves split: a fifth of the train half, at least `minimum`.
let halvesValidationSize (minimum: int) (trainHalf: int) = max minimum ((trainHalf + 4) / 5)

/// Split judged queries by a rule. `train` is the dataset's train qrels where it has them.
let split (rule: SplitRule) (train: Qrels option) (test: Qrels) : QuerySplit =
    let holdOut count (qrels: Qrels) (ids: string list) what =
        if count >= ids.Length then
            failwithf "cannot hold out %d validation queries from %d %s" count ids.Length what
        let validation = ValidationSplit.HeldOutQueries(qrels.Restrict ids, count, ValidationSeed) |> List.ofSeq
        let held = set validation
        ids |> List.filter (held.Contains >> not), validation
    match rule with
    | GivenTrainTest count ->
        let trainQrels =
            match train with
            | Some q -> q
            | None -> failwith "split 'given-train-test' needs train qrels, and the dataset has none (use query-halves)"
        let trainIds, validation = holdOut count trainQrels (trainQrels.QueryIds |> Seq.sort |> List.ofSeq) "train queries"
        { Train = trainIds; Validation = validation; Test = test.QueryIds |> Seq.sort |> List.ofSeq }
    | QueryHalves count ->
        let judged = test.QueryIds |> Seq.sort |> List.ofSeq
        let ordered = hashOrder HalvesSalt judged
        let half = judged.Length / 2
        let trainHalf = ordered |> List.take half |> List.sort
        let testHalf = ordered |> List.skip half |> List.sort
        let trainIds, validation = holdOut (halvesValidationSize count trainHalf.Length) test trainHalf "train-half queries"
        { Train = trainIds; Validation = validation; Test = testHalf }

/// What the split rule says, for reports.
let describe =
    function
    | GivenTrainTest n -> sprintf "the dataset's train/test qrels; %d train queries held out for validation (fixed seed %d)" n ValidationSeed
    | QueryHalves n -> sprintf "no train split: judged queries halved by a fixed hash into train and test; a fifth of the train half, at least %d queries, held out for validation (fixed seed %d)" n ValidationSeed
