/// A sweep spec expanded into experiments. Every point is an ExperimentConfig built the way the
/// catalog builds its own (Builders.retrieval: the profile's split rule, ladder, budget and method
/// options), keyed by Runner.keyOf, so a point equal to a catalog experiment is that experiment and
/// shares its cached result. Everything is validated here, before anything runs.
module Smec.Experiments.Sweeps.SweepPlan

open System
open System.Globalization
open System.IO
open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest
open Smec.Experiments.Running
open Smec.Experiments.Methods.MethodOptions
open Smec.Experiments.Methods.MethodRegistry
open Smec.Experiments.Sweeps.SweepSpec
open Smec.Experiments.Methods

/// What the sweep needs of a method: whether it learns, its options (names, types, defaults) and
/// the options the catalog's profiles give it.
type private MethodSpec =
    { Key: string
      Label: string
      Trains: bool
      Options: OptionSpec list
      ProfileOptions: Profile -> (string * string) list }

let private describeType = OptionKind.describe
let private canonical (o: OptionSpec) (value: string) = MethodOptions.canonical o value

/// One experiment of the sweep with the axis values that made it.
type Point =
    { Config: ExperimentConfig
      /// Runner.keyOf: the key of its result in the cache.
      Key: string
      /// Column -> value: dataset, encoder, method, every axis ("-" where it does not apply).
      Values: Map<string, string>
      /// The point without its seed: points of one setting are averaged over seeds.
      Setting: string }

type SweepPlan =
    { Spec: SweepSpec
      Points: Point list
      /// The columns that identify a setting, in order: the base lists with more than one value, then the axes.
      Columns: string list
      /// Every dim the points score.
      Dims: int list }

/// The seed column, kept apart from the setting's columns.
let seedColumn = "seed"

// ---- data ------------------------------------------------------------------------------------

/// Distinct judged queries (a positive judgement) of a qrels file.
let private judgedQueries (path: string) =
    let qrels = Qrels.Read path
    qrels.QueryIds |> Seq.filter (fun q -> qrels.ForQuery q |> Seq.exists (fun kv -> kv.Value > 0)) |> Seq.length

/// A dataset's split rule (SplitRules: its manifest's `split` field, else the default), checked
/// against its judgements: halves need 10 judged queries, a held-out validation set at most a fifth
/// of the judged train queries (else the manifest should state a smaller `split.validation`).
let splitOf (catalog: ManifestCatalog) (dataset: string) : Result<SplitRule, string> =
    let manifest = catalog.Dataset dataset
    let rule, _ = SplitRules.ofManifest manifest
    try
        let folder = (DatasetLocator.Locate(manifest, allowDownload = false)).Folder
        let qrels split = manifest.FilesWithRole "qrels" |> Seq.filter (fun f -> f.Split = split) |> Seq.map (fun f -> Path.Combine(folder, f.Path)) |> List.ofSeq
        match rule with
        | QueryHalves _ ->
            let judged = [ "test"; "all" ] |> List.collect qrels |> List.sumBy judgedQueries
            if judged < 10 then Error(sprintf "dataset '%s' has %d judged queries: too few to split into train, validation and test" dataset judged)
            else Ok rule
        | GivenTrainTest validation ->
            let judged = qrels "train" |> List.sumBy judgedQueries
            if judged < 5 * validation then
                Error(sprintf "dataset '%s' has %d judged train queries: too few to hold out %d for validation (at most a fifth); state a smaller split.validation in %s (data-manifests/README.md, Split rule)"
                          dataset judged validation manifest.ManifestFile)
            else Ok rule
        | KFold(folds, minimum, _) ->
            // Declared counts where the manifest has them (SMART qrels are not TSV), else the files'.
            let judged =
                match SplitRules.judgedCounts manifest with
                | Some(train, test) -> defaultArg train 0 + test
                | None -> [ "train"; "test"; "all" ] |> List.collect qrels |> List.sumBy judgedQueries
            if not (Splits.kFoldFits folds minimum judged) then
                Error(sprintf "dataset '%s' has %d judged queries: too few for %d-fold cross-validation (expected at least %d: every fold tests a query, and its model trains on more queries than the %d or more it holds out for validation); state fewer split.folds or a smaller split.validation in %s (data-manifests/README.md, Split rule)"
                          dataset judged folds (Splits.kFoldLeast folds minimum) minimum manifest.ManifestFile)
            else Ok rule
    with :? DataUnavailableException as e -> Error e.Message

/// Where a (dataset, encoder) pair comes from: an embeddings manifest entry that names it (by
/// encoder or the paper encoder it stands for), else the declared dataset and encoder.
let private dataOf (spec: SweepSpec) (catalog: ManifestCatalog) (manifest: EmbeddingsManifest option) (i: int) (j: int) (dataset: string) (encoder: string) =
    let entry =
        manifest
        |> Option.bind (fun m ->
            m.Entries |> List.tryFind (fun e -> e.Dataset = dataset && (e.Encoder = encoder || String.Equals(e.StandsFor, encoder, StringComparison.OrdinalIgnoreCase))))
    match entry with
    | Some e -> Manifest e.Fingerprint, Builders.manifestSplit e, e.Encoder
    | None ->
        if not (catalog.Datasets.ContainsKey dataset) then
            let fromManifest = match manifest with Some m -> sprintf ", nor in the embeddings manifest %s" m.Path | None -> ""
            spec.Fail(sprintf "datasets[%d]" i,
                      sprintf "unknown dataset '%s'; expected one declared in %s (%s)%s. Add your own with a manifest in a folder given by --manifests DIR or %s"
                          dataset (String.concat ", " catalog.Folders) (catalog.Datasets.Keys |> Seq.filter (fun k -> catalog.Datasets[k].Kind = "text-retrieval") |> Seq.sort |> String.concat ", ")
                          fromManifest ManifestCatalog.Variable)
        let declared = catalog.Datasets[dataset]
        if declared.Kind <> "text-retrieval" then
            spec.Fail(sprintf "datasets[%d]" i, sprintf "dataset '%s' is %s; sweeps run text-retrieval datasets" dataset declared.Kind)
        if not (catalog.Encoders.ContainsKey encoder) then
            spec.Fail(sprintf "encoders[%d]" j,
                      sprintf "unknown encoder '%s'; expected one declared in %s (%s), or one an embeddings manifest (--embeddings) names"
                          encoder (String.concat ", " catalog.Folders) (catalog.Encoders.Keys |> Seq.sort |> String.concat ", "))
        if catalog.Encoders[encoder].Kind = "precomputed" then
            spec.Fail(sprintf "encoders[%d]" j, sprintf "encoder '%s' is precomputed: give its embeddings with --embeddings FILE (an embeddings manifest entry for dataset '%s')" encoder dataset)
        match splitOf catalog dataset with
        | Ok rule -> Mirror, rule, encoder
        | Error reason -> spec.Fail(sprintf "datasets[%d]" i, reason)

// ---- options and budgets ---------------------------------------------------------------------

let private budgetValue (spec: SweepSpec) (field: string) (name: string) (text: string) (budget: TrainingBudget) =
    let whole minimum =
        match Int32.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, v when v >= minimum -> v
        | _ -> spec.Fail(field, sprintf "'%s' is not a whole number >= %d (budget field %s)" text minimum name)
    match name with
    | "max_steps" -> { budget with MaxSteps = whole 1 }
    | "batch_size" -> { budget with BatchSize = whole 2 }
    | "patience" -> { budget with Patience = whole 1 } // the training loop needs one validation without improvement to stop
    | "validate_every" -> { budget with ValidateEvery = whole 1 }
    | "learning_rate" ->
        match Double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, v when v > 0.0 && Double.IsFinite v -> { budget with LearningRate = v }
        | _ -> spec.Fail(field, sprintf "'%s' is not a positive number (budget field learning_rate)" text)
    | other -> spec.Fail(field, sprintf "unknown budget field '%s'; expected one of %s" other (String.concat ", " budgetFields))

/// What an axis sets on a method: an option of it, a budget field, or nothing.
type private Target =
    | OptionOf of OptionSpec
    | BudgetField of string
    | NotApplicable

let private targetOf (axisName: string) (m: MethodSpec) =
    let methodPart, option =
        match axisName.IndexOf '.' with
        | -1 -> None, axisName
        | at -> Some(axisName.Substring(0, at)), axisName.Substring(at + 1)
    if methodPart.IsSome && methodPart <> Some m.Key then NotApplicable
    elif List.contains option budgetFields then (if m.Trains then BudgetField option else NotApplicable)
    else
        match m.Options |> List.tryFind (fun o -> o.Name = option) with
        | Some o -> OptionOf o
        | None -> NotApplicable

/// Fail unless the axis (or fixed option) applies to at least one method of the sweep.
let private requireTarget (spec: SweepSpec) (field: string) (axisName: string) (methods: MethodSpec list) =
    if methods |> List.forall (fun m -> targetOf axisName m = NotApplicable) then
        let known =
            methods
            |> List.map (fun m ->
                let names = (m.Options |> List.map (fun o -> sprintf "%s (%s)" o.Name (describeType o.Kind))) @ (if m.Trains then budgetFields else [])
                sprintf "%s: %s" m.Key (if names.IsEmpty then "no options" else String.concat ", " names))
            |> String.concat "; "
        spec.Fail(field, sprintf "no method of this sweep has an option '%s'; expected one of (method: options) %s; write 'method.option' for one method" axisName known)

// ---- expansion -------------------------------------------------------------------------------

let private product (axes: Axis list) : (string * string) list list =
    List.foldBack (fun (a: Axis) (rest: (string * string) list list) -> [ for v in a.Values do for r in rest -> (a.Name, v) :: r ]) axes [ [] ]

let private zipRows (spec: SweepSpec) : (string * string) list list =
    match spec.Zip with
    | [] -> [ [] ]
    | first :: _ ->
        for a in spec.Zip do
            if a.Values.Length <> first.Values.Length then
                spec.Fail("zip." + a.Name, sprintf "has %d values but zip.%s has %d; zipped axes need equal lengths" a.Values.Length first.Name first.Values.Length)
        [ for i in 0 .. first.Values.Length - 1 -> [ for a in spec.Zip -> a.Name, a.Values[i] ] ]

/// Expand and validate a spec. `keyOf` is the key of a config's stored result (Runner.keyOf env).
let expand (registry: MethodRegistry) (catalog: ManifestCatalog) (manifest: EmbeddingsManifest option) (keyOf: ExperimentConfig -> string) (spec: SweepSpec) : SweepPlan =
    let methodSpecs =
        spec.Methods
        |> List.mapi (fun i key ->
            match registry.TryEntry key with
            | Some e -> { Key = e.Key; Label = e.Label; Trains = e.Trains; Options = e.Options; ProfileOptions = e.ProfileOptions }
            | None -> spec.Fail(sprintf "methods[%d]" i, sprintf "unknown method '%s'; expected one of %s (`smec methods` lists them with their options)" key (String.concat ", " registry.Keys)))
    let duplicates (field: string) (items: string list) =
        match items |> List.countBy id |> List.tryFind (fun (_, n) -> n > 1) with
        | Some(item, _) -> spec.Fail(field, sprintf "'%s' is listed twice" item)
        | None -> ()
    duplicates "datasets" spec.Datasets
    duplicates "encoders" spec.Encoders
    duplicates "methods" spec.Methods
    duplicates "dims" (spec.Dims |> Option.defaultValue [] |> List.map string)
    duplicates "seeds" (spec.Seeds |> List.map string)
    let allAxes = (spec.Grid |> List.map (fun a -> "grid." + a.Name, a)) @ (spec.Zip |> List.map (fun a -> "zip." + a.Name, a))
    duplicates "grid/zip" (allAxes |> List.map (fun (_, a) -> a.Name))
    for field, a in allAxes do
        if a.Name = seedColumn then spec.Fail(field, "seeds are their own list ('seeds: [1, 2, 3]'), not an axis")
        requireTarget spec field a.Name methodSpecs
        if field.StartsWith "grid." then duplicates field a.Values
        // Every value must fit every method the axis applies to.
        for m in methodSpecs do
            match targetOf a.Name m with
            | OptionOf o ->
                a.Values |> List.iteri (fun i v -> match canonical o v with Ok _ -> () | Error e -> spec.Fail(sprintf "%s[%d]" field i, sprintf "%s for method '%s'" e m.Key))
            | BudgetField name -> a.Values |> List.iteri (fun i v -> budgetValue spec (sprintf "%s[%d]" field i) name v Profiles.localBudget |> ignore)
            | NotApplicable -> ()
    for KeyValue(methodKey, options) in spec.Options do
        match methodSpecs |> List.tryFind (fun m -> m.Key = methodKey) with
        | None -> spec.Fail("options." + methodKey, sprintf "'%s' is not a method of this sweep (methods: %s)" methodKey (String.concat ", " spec.Methods))
        | Some m ->
            for KeyValue(name, value) in options do
                let field = sprintf "options.%s.%s" methodKey name
                match m.Options |> List.tryFind (fun o -> o.Name = name) with
                | Some o -> match canonical o value with Ok _ -> () | Error e -> spec.Fail(field, e)
                | None ->
                    spec.Fail(field, sprintf "method '%s' has no option '%s'; expected one of %s" methodKey name
                                  (if m.Options.IsEmpty then "(none)" else m.Options |> List.map (fun o -> sprintf "%s (%s)" o.Name (describeType o.Kind)) |> String.concat ", "))
    let profileBudget = match spec.Profile with Local -> Profiles.localBudget | Paper -> Profiles.paperBudget
    let baseBudget = spec.Budget |> Map.fold (fun b name text -> budgetValue spec ("budget." + name) name text b) profileBudget
    let dims =
        match spec.Dims with
        | Some ds -> ds
        | None -> match spec.Profile with Local -> Profiles.localDims | Paper -> Profiles.paperDims7B
    let combos = [ for g in product spec.Grid do for z in zipRows spec -> g @ z ]
    let axisNames = allAxes |> List.map (fun (_, a) -> a.Name)
    let baseColumns =
        [ if spec.Datasets.Length > 1 then "dataset"
          if spec.Encoders.Length > 1 then "encoder"
          if spec.Methods.Length > 1 then "method" ]
    let points =
        [ for i, dataset in List.indexed spec.Datasets do
              for j, encoder in List.indexed spec.Encoders do
                  let source, split, encoderName = dataOf spec catalog manifest i j dataset encoder
                  for m in methodSpecs do
                      let methodSpec: Profiles.MethodSpec = { Key = m.Key; Row = m.Label; Trains = m.Trains }
                      // The spec's profile sets what the catalog's builders set for it (function class,
                      // selection, tuning grid), so a sweep point equal to a catalog cell shares its key.
                      let profileOptions = m.ProfileOptions spec.Profile
                      let fixedOptions = spec.Options |> Map.tryFind m.Key |> Option.defaultValue Map.empty
                      for combo in combos do
                          for seed in spec.Seeds do
                              let options, budget, shown =
                                  combo
                                  |> List.fold
                                      (fun (options: Map<string, string>, budget: TrainingBudget, shown: Map<string, string>) (axisName, value) ->
                                          match targetOf axisName m with
                                          | OptionOf o -> options.Add(o.Name, value), budget, shown.Add(axisName, value)
                                          | BudgetField name -> options, budgetValue spec axisName name value budget, shown.Add(axisName, value)
                                          | NotApplicable -> options, budget, shown.Add(axisName, "-"))
                                      ((Map.ofList profileOptions |> Map.fold (fun acc k v -> Map.add k v acc) <| fixedOptions), baseBudget, Map.empty)
                              // Canonical texts, and options at their default left out: the catalog
                              // writes only the options it changes, so equal settings get equal keys.
                              let options =
                                  options
                                  |> Map.toList
                                  |> List.choose (fun (name, value) ->
                                      let o = m.Options |> List.find (fun o -> o.Name = name)
                                      let v = match canonical o value with Ok v -> v | Error e -> failwith e
                                      if v = o.Default then None else Some(name, v))
                              let config =
                                  { Builders.retrieval dataset encoderName source split dims budget methodSpec options with
                                      Seed = (if m.Trains then seed else 0L) }
                              let values =
                                  shown
                                  |> Map.add "dataset" dataset
                                  |> Map.add "encoder" encoder
                                  |> Map.add "method" m.Key
                                  |> Map.add seedColumn (if m.Trains then string seed else "-")
                              let setting = (baseColumns @ axisNames) |> List.map (fun c -> sprintf "%s=%s" c values[c]) |> String.concat " "
                              // On a k-fold dataset a point is one fold's experiment; the report merges a
                              // setting's folds per seed (FoldResults), as a table cell does.
                              for foldConfig in Splits.experimentsOf config do
                                  yield { Config = foldConfig; Key = keyOf foldConfig; Values = values; Setting = setting } ]
        |> List.distinctBy (fun p -> p.Key)
    { Spec = spec
      Points = points
      Columns = baseColumns @ axisNames
      Dims = dims }
