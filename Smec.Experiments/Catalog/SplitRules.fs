/// The one place a collection's split rule is decided: the `split` field of its dataset manifest
/// (data-manifests/datasets/*.yaml), else the default data-manifests/README.md states ("Split
/// rule"). The catalog, the side commands and sweeps all take the rule from here, and reports
/// say which rule a dataset got and where it came from.
module Smec.Experiments.Catalog.SplitRules

open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog.Model

/// Validation queries held out of a collection's own train queries by default (SciFact: 100 of
/// its 809, docs/CATALOG.md, "Split rules").
let defaultValidation = 100

/// The smallest validation set of a collection without a train split (query halves; Cranfield's
/// and CACM's k-fold manifests state the same 12). Early stopping keeps the step with the best
/// validation nDCG@10; with CACM's former 5 validation queries several trained cells never beat
/// their starting point ("kept start") and equalled PCA to every digit. 12 queries let one query
/// move the mean by at most 1/12 instead of 1/5.
let minHalvesValidation = 12

/// Below this many labelled queries a model could train on under a fixed split (the queries of its
/// train judgements, or half its judged queries when it has none), a collection is split by k-fold
/// cross-validation instead. On collections with 15 to 43 labelled train queries the fixed split
/// left 3 to 9 validation queries: selection on them was noise (the trained methods' validation
/// nDCG@10 sat 10-12 points above their test figures, PCA's within 3), and the test part was a
/// handful of queries too. k-fold tests every judged query once and gives each fold's model a
/// validation set drawn from several times as many queries. At 200 a fixed split holds out 40
/// validation queries (a fifth), where one query moves the mean by 1/40; SciFact (809 train
/// queries) and the larger BEIR sets stay on their fixed split, Cranfield (112 in the train half),
/// CACM (26), NFCorpus, TREC-COVID and Touché get k-fold.
let kFoldBelow = 200

/// Folds of a k-fold rule the manifest does not size (`split.folds`).
let defaultFolds = 5

/// The fewest validation queries of a k-fold fold when the manifest states none: a fifth of the
/// fold's training queries, at least 5, so a collection of 15 judged queries still runs (12 to
/// train on: 5 validate, 7 train). The catalog's Cranfield and CACM state 12 (minHalvesValidation's reason).
let defaultKFoldValidation = 5

/// The default for a collection whose manifest states no rule: k-fold (5 folds) when fewer than
/// `kFoldBelow` labelled queries could train under a fixed split (`trainable`, None when unknown);
/// else its own train and test judgements with 100 validation queries when it has train
/// judgements, else its judged queries halved (at least 12 validation queries). Image collections
/// split by class in their own providers; their configs carry the fixed form.
let defaultRule (hasTrainJudgements: bool) (trainable: int option) =
    match trainable with
    | Some n when n < kFoldBelow -> KFold(defaultFolds, defaultKFoldValidation, None)
    | _ -> if hasTrainJudgements then GivenTrainTest defaultValidation else QueryHalves minHalvesValidation

/// The labelled queries a fixed split would train on: the train judgements' queries, else the
/// train half of the judged queries.
let trainableQueries (trainQueries: int option) (judgedQueries: int) =
    match trainQueries with
    | Some n -> n
    | None -> judgedQueries / 2

/// Judged queries of qrels files, read once per file (the catalog asks for a rule once per cell).
let private judgedCache = System.Collections.Concurrent.ConcurrentDictionary<string, int>()

let private judgedIn (path: string) =
    judgedCache.GetOrAdd(System.IO.Path.GetFullPath path, fun full -> (Smec.Core.Data.Qrels.Read full).QueryCount)

/// The queries a fixed split would train on for qrels files (train files, test files): for a
/// user's embeddings manifest entry or a collection without declared counts.
let trainableOfFiles (trainFiles: string list) (testFiles: string list) =
    let sum = List.sumBy judgedIn
    trainableQueries (if trainFiles.IsEmpty then None else Some(sum trainFiles)) (sum testFiles)

/// The default rule of an embeddings manifest entry (a user's qrels files, counted).
let ofFiles (trainFile: string option) (testFile: string) =
    // Unreadable files: the fixed split; the manifest check (Verify.UserData) says what is wrong with them.
    let trainable = try Some(trainableOfFiles (Option.toList trainFile) [ testFile ]) with _ -> None
    defaultRule trainFile.IsSome trainable

/// A collection's judged queries: (its train judgements' queries where it has a train qrels file,
/// its test or all judgements' queries), as its manifest declares them (`counts`), else counted in
/// its qrels files when they are here; None when neither is possible.
let judgedCounts (manifest: DatasetManifest) : (int option * int) option =
    let hasTrain = manifest.Files |> Seq.exists (fun f -> f.Role = "qrels" && f.Split = "train")
    let declared (split: string) =
        match manifest.Counts with
        | null -> None
        | counts ->
            match counts.Splits.TryGetValue split with
            | true, c when c.Queries.HasValue -> Some c.Queries.Value
            | _ -> None
    let declaredTest =
        match declared "test", declared "all" with
        | Some n, _ | None, Some n -> Some n
        | None, None ->
            match manifest.Counts with
            | null -> None
            | counts when counts.JudgedQueries.HasValue && not hasTrain -> Some counts.JudgedQueries.Value
            | _ -> None
    match declared "train", declaredTest with
    | train, Some test when train.IsSome || not hasTrain -> Some(train, test)
    | _ ->
        try
            let folder = (DatasetLocator.Locate(manifest, allowDownload = false)).Folder
            let files split = manifest.FilesWithRole "qrels" |> Seq.filter (fun f -> f.Split = split) |> Seq.map (fun f -> System.IO.Path.Combine(folder, f.Path)) |> List.ofSeq
            let train = files "train"
            Some((if train.IsEmpty then None else Some(List.sumBy judgedIn train)), List.sumBy judgedIn (files "test" @ files "all"))
        with _ -> None // not here (yet): the fixed split, as before counts were consulted

/// Where a dataset's rule came from.
type RuleSource =
    /// The manifest's `split` field.
    | Declared of manifestFile: string
    /// No `split` field: the default.
    | Default

/// A manifest's rule and where it came from.
let ofManifest (manifest: DatasetManifest) : SplitRule * RuleSource =
    match manifest.Split with
    | null when manifest.Kind <> "text-retrieval" -> defaultRule true None, Default
    | null ->
        let trainJudgements = manifest.Files |> Seq.exists (fun f -> f.Role = "qrels" && f.Split = "train")
        defaultRule trainJudgements (judgedCounts manifest |> Option.map (fun (train, test) -> trainableQueries train test)), Default
    | split when split.Rule = SplitSpec.QueryHalves -> QueryHalves split.Validation, Declared manifest.ManifestFile
    | split when split.Rule = SplitSpec.KFold ->
        KFold(split.Folds, (if split.Validation > 0 then split.Validation else defaultKFoldValidation), None), Declared manifest.ManifestFile
    | split -> GivenTrainTest split.Validation, Declared manifest.ManifestFile

/// The rule of a dataset the default manifest catalog declares (the default rule with train judgements for one it does not).
let ofDatasetWithSource (id: string) : SplitRule * RuleSource =
    match ManifestCatalog.Default.Datasets.TryGetValue id with
    | true, manifest -> ofManifest manifest
    | _ -> defaultRule true None, Default

/// The rule of a dataset the default manifest catalog declares.
let ofDataset (id: string) : SplitRule = fst (ofDatasetWithSource id)

/// One line for reports: the rule and where it came from.
let describe (rule: SplitRule) (source: RuleSource) =
    let text =
        match rule with
        | GivenTrainTest validation -> sprintf "the collection's own train and test judgements, %d train queries held out for validation" validation
        | QueryHalves least -> sprintf "judged queries halved into train and test, a fifth of the train half (at least %d) held out for validation" least
        | KFold(folds, least, _) ->
            sprintf "%d-fold cross-validation over the judged queries (each query tested once, by the model of the fold that holds it; that model trains on the other folds, a fifth of them, at least %d, held out for validation)" folds least
    match source, rule with
    | Declared file, _ -> sprintf "split rule: %s (the manifest's split field, %s)" text file
    | Default, KFold _ -> sprintf "split rule: %s (the default for fewer than %d labelled train queries, data-manifests/README.md)" text kFoldBelow
    | Default, _ -> sprintf "split rule: %s (the default, data-manifests/README.md)" text
