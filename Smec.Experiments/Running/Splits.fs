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

/// The salt of k-fold assignment (Model.KFold): a fold is a function of the query id alone.
[<Literal>]
let FoldSalt = "smec-k-fold-v1"

/// The fold (0 .. folds-1) of every judged query: the ids in their salted-hash order dealt out in
/// turn, so fold sizes differ by at most one and the assignment depends on the collection's query
/// ids alone, never on a method or a training seed (paired comparisons need every method to be
/// tested on the same queries by models that never saw them).
let foldOf (folds: int) (judged: string seq) : Map<string, int> =
    hashOrder FoldSalt (Seq.distinct judged) |> List.mapi (fun i id -> id, i % folds) |> Map.ofList

/// Query ids of the three parts (test never reaches training).
type QuerySplit =
    { Train: string list
      Validation: string list
      Test: string list }

/// Validation size of a query-halves split: a fifth of the train half, at least `minimum`.
let halvesValidationSize (minimum: int) (trainHalf: int) = max minimum ((trainHalf + 4) / 5)

/// The judgements k-fold cross-validation splits: the train and test judgements pooled (a query
/// judged in both is refused: its two sets of judgements cannot be told apart).
let pooled (train: Qrels option) (test: Qrels) : Qrels =
    match train with
    | None -> test
    | Some train ->
        let byQuery = Collections.Generic.Dictionary<string, Collections.Generic.Dictionary<string, int>>(StringComparer.Ordinal)
        for qrels in [ train; test ] do
            for q in qrels.QueryIds |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b)) do
                if byQuery.ContainsKey q then
                    failwithf "query '%s' is judged in both the train and the test qrels; k-fold cross-validation pools them and needs each query judged once" q
                byQuery[q] <- Collections.Generic.Dictionary<string, int>(qrels.ForQuery q, StringComparer.Ordinal)
        Qrels(byQuery)

/// The judgements a rule's train / validation queries and its test queries come from.
let judgementsOf (rule: SplitRule) (train: Qrels option) (test: Qrels) : Qrels * Qrels =
    match rule with
    | GivenTrainTest _ ->
        match train with
        | Some q -> q, test
        | None -> failwith "split 'given-train-test' needs train qrels, and the dataset has none (use query-halves)"
    | QueryHalves _ -> test, test
    | KFold _ ->
        let all = pooled train test
        all, all

/// Validation size of a k-fold fold: a fifth of its training queries (the other folds), at least `minimum`.
let kFoldValidationSize (minimum: int) (training: int) = halvesValidationSize minimum training

/// Whether `judged` queries make `folds` folds that each test a query and leave their model more
/// training queries than validation queries.
let kFoldFits (folds: int) (minimum: int) (judged: int) =
    let largestFold = (judged + folds - 1) / folds
    let training = judged - largestFold
    judged >= folds && training - kFoldValidationSize minimum training >= 1

/// The fewest judged queries a k-fold rule needs (for messages).
let kFoldLeast (folds: int) (minimum: int) =
    Seq.initInfinite (fun n -> n + folds) |> Seq.find (kFoldFits folds minimum)

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
    | KFold(_, _, None) ->
        failwith "a k-fold rule without a fold names all folds (a cell's config); an experiment runs one fold"
    | KFold(folds, minimum, Some fold) ->
        let judged = pooled train test
        let ids = judged.QueryIds |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b)) |> List.ofSeq
        if not (kFoldFits folds minimum ids.Length) then
            failwithf "cannot make %d folds of %d judged queries: each fold's model needs more training queries than the %d it holds out for validation (at least %d judged queries)"
                folds ids.Length (kFoldValidationSize minimum (ids.Length - (ids.Length + folds - 1) / folds)) (kFoldLeast folds minimum)
        if fold < 0 || fold >= folds then failwithf "fold %d is not one of 0..%d" fold (folds - 1)
        let foldOfQuery = foldOf folds ids
        let testIds, training = ids |> List.partition (fun q -> foldOfQuery[q] = fold)
        let trainIds, validation = holdOut (kFoldValidationSize minimum training.Length) judged training "training queries of the other folds"
        { Train = trainIds; Validation = validation; Test = testIds }

/// What the split rule says, for reports.
let describe =
    function
    | GivenTrainTest n -> sprintf "the dataset's train/test qrels; %d train queries held out for validation (fixed seed %d)" n ValidationSeed
    | QueryHalves n -> sprintf "no train split: judged queries halved by a fixed hash into train and test; a fifth of the train half, at least %d queries, held out for validation (fixed seed %d)" n ValidationSeed
    | KFold(k, n, fold) ->
        let which =
            match fold with
            | Some f -> sprintf "fold %d/%d (index %d in the config): this fold's queries tested" (f + 1) k f
            | None -> sprintf "all %d folds, each query tested once" k
        sprintf "%d-fold cross-validation over the judged queries (train and test judgements pooled, folds by a fixed hash of the query id); %s; the model trains on the other folds' queries, a fifth of them, at least %d, held out for validation (fixed seed %d)" k which n ValidationSeed

/// The rule of a whole collection: a fold's rule without its fold (a cell's rule), others as they are.
let unfolded (rule: SplitRule) =
    match rule with
    | KFold(folds, minimum, Some _) -> KFold(folds, minimum, None)
    | other -> other

/// The experiments a config stands for: one per fold for a k-fold config that names no fold (a
/// cell's config; FoldResults merges them back), else the config itself. Data descriptions split
/// nothing and stay one experiment.
let experimentsOf (config: ExperimentConfig) =
    match config.Split with
    | KFold(folds, minimum, None) when config.Kind <> DatasetDescription ->
        [ for f in 0 .. folds - 1 -> { config with Split = KFold(folds, minimum, Some f) } ]
    | _ -> [ config ]
