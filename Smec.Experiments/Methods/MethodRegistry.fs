/// The one method registry: a method key ("smec", "pca", ...) -> its table label, whether it
/// learns, its options (names, types, defaults) and the factory of its ICompressor. The catalog,
/// sweeps, the side commands, scripts and notebooks all name methods through it; adding a method
/// is its class plus one entry (`MethodRegistry.With`).
module Smec.Experiments.Methods.MethodRegistry

open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Training
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Methods.MethodOptions

/// What a factory gets: the experiment's fully resolved options (every option of the method, the
/// defaults included), dims, budget and seed, and the input dims.
type MethodRequest =
    { Method: string
      Options: Map<string, string>
      /// The dims to produce (the experiment's dims that fit the input).
      Dims: int list
      InputDim: int
      Budget: TrainingBudget option
      Seed: int64 }

type MethodFactory = MethodRequest -> ICompressor

type MethodEntry =
    { Key: string
      /// The row label in tables ("Matryoshka-Adaptor").
      Label: string
      /// Learns from training data: gets a training budget and a seed.
      Trains: bool
      /// One line on what it is.
      Summary: string
      Options: OptionSpec list
      Create: MethodFactory
      /// The implementation and the version of its code path ("Smec.Core Pca/2"), part of every result
      /// key: bump the version when the code changes numbers in a way no option records.
      Implementation: string }

type MethodRegistry =
    { Entries: Map<string, MethodEntry> }

    member this.Keys = this.Entries |> Seq.map (fun kv -> kv.Key) |> List.ofSeq

    member this.TryEntry(key: string) = this.Entries.TryFind key

    member this.Resolve(key: string) : Result<MethodEntry, string> =
        match this.Entries.TryFind key with
        | Some entry -> Ok entry
        | None -> Error(sprintf "unknown method '%s'; known: %s" key (String.concat ", " this.Keys))

    /// The implementation tag of a key ("" when none is registered).
    member this.ImplementationOf(key: string) =
        match this.Entries.TryFind key with
        | Some entry -> entry.Implementation
        | None -> ""

    /// Every option of the method with its value: the given ones validated, the rest at their defaults.
    member this.ResolveOptions(key: string, options: Map<string, string>) : Result<Map<string, string>, string> =
        this.Resolve key |> Result.bind (fun entry -> MethodOptions.resolve key entry.Options options)

    /// The registry with one more (or a replaced) entry.
    member this.With(entry: MethodEntry) = { Entries = this.Entries.Add(entry.Key, entry) }

/// The SMEC ladder for an experiment: the input dim, then every requested dim below it, largest first.
let ladder (inputDim: int) (dims: int list) =
    inputDim :: (dims |> List.filter (fun d -> d < inputDim) |> List.distinct |> List.sortDescending)

let private budgetOf (request: MethodRequest) =
    match request.Budget with
    | Some b -> b
    | None -> failwithf "method '%s' learns, so its experiment needs a training budget" request.Method

let private dimsOf (request: MethodRequest) = System.Collections.Generic.List<int>(request.Dims)

/// The shared training loop's options for a catalog training budget.
let trainingOptionsOf (budget: TrainingBudget) =
    TrainingOptions(
        MaxSteps = budget.MaxSteps,
        BatchSize = budget.BatchSize,
        LearningRate = budget.LearningRate,
        EvaluateEvery = budget.ValidateEvery,
        Patience = budget.Patience
    )

// ---- options of each method -----------------------------------------------------------------

/// Loop fields a budget sets, or that do not change numbers: not options.
let private budgetFields =
    set [ "MaxSteps"; "MaxStepsPerStage"; "BatchSize"; "LearningRate"; "EvaluateEvery"; "Patience"; "PatienceSteps"; "Progress" ]

/// SMEC's and MRL's options: SmecOptions (the ladder comes from the dims; Fit sets the loss form to each
/// of loss_candidates in turn, so the candidates are the option) and the training loop's
/// fields the budget does not set (optimiser, weight decay, hard negatives, ...).
let private smecSpecs =
    specsOf (SmecOptions()) (set [ "Ladder"; "LossForm" ]) @ specsOf (TrainingOptions()) (budgetFields + set [ "CheckpointPath"; "Label" ])

/// MRL is SMEC's module with SMRL, ADS and S-XBM off: those three are not its options.
let private mrlSpecs = smecSpecs |> List.filter (fun s -> not (List.contains s.Name [ "smrl"; "ads"; "sxbm" ]))

/// Fit sets the ranking loss to each candidate in turn: the candidates are the option.
let private matryoshkaSpecs = specsOf (MatryoshkaAdaptorOptions()) (budgetFields.Add "RankingLoss")

/// Search-Adaptor's (alpha, beta) grid: the paper's full 3 x 3 grid chosen on validation, its 3
/// diagonal points, or one point (alpha, beta) without a search.
let private gridSpec =
    { Name = "grid"; Kind = Choice [ "full"; "reduced"; "single" ]; Default = "full"
      Doc = "SearchAdaptorOptions.Grid: full (3 x 3, chosen on validation), reduced (the diagonal), single (alpha, beta)" }

let private searchAdaptorSpecs =
    [ gridSpec
      { Name = "alpha"; Kind = Number; Default = "0.1"; Doc = "L1 recovery weight of the single grid point" }
      { Name = "beta"; Kind = Number; Default = "0.01"; Doc = "query-prediction weight of the single grid point" } ]
    @ specsOf (SearchAdaptorOptions()) (budgetFields + set [ "Grid"; "RankingLoss" ])

let private number (options: Map<string, string>) name =
    System.Double.Parse(options[name], System.Globalization.CultureInfo.InvariantCulture)

// ---- factories ------------------------------------------------------------------------------

let private truncation (request: MethodRequest) : ICompressor = new Truncation(dimsOf request)

let private pca (request: MethodRequest) : ICompressor = new Pca(dimsOf request)

let private matryoshkaAdaptor (request: MethodRequest) : ICompressor =
    let budget = budgetOf request
    let options =
        MethodOptions.apply
            (MatryoshkaAdaptorOptions(
                MaxStepsPerStage = budget.MaxSteps,
                BatchSize = budget.BatchSize,
                LearningRate = budget.LearningRate,
                EvaluateEvery = budget.ValidateEvery,
                PatienceSteps = budget.Patience * budget.ValidateEvery
            ))
            request.Options
    new MatryoshkaAdaptor(dimsOf request, options)

let private searchAdaptor (request: MethodRequest) : ICompressor =
    let budget = budgetOf request
    let grid =
        match request.Options["grid"] with
        | "full" -> SearchAdaptorOptions.FullGrid
        | "reduced" -> SearchAdaptorOptions.ReducedGrid
        | _ -> [| RegularizerWeights(number request.Options "alpha", number request.Options "beta") |] :> System.Collections.Generic.IReadOnlyList<_>
    let options =
        MethodOptions.apply
            (SearchAdaptorOptions(
                Grid = grid,
                MaxSteps = budget.MaxSteps,
                BatchSize = budget.BatchSize,
                LearningRate = budget.LearningRate,
                EvaluateEvery = budget.ValidateEvery,
                PatienceSteps = budget.Patience * budget.ValidateEvery
            ))
            request.Options
    new SearchAdaptor(dimsOf request, options)

/// SMEC from resolved options; `fixedModules` overrides SMRL/ADS/S-XBM (MRL has them off).
let private smecCompressor (fixedModules: bool option) (request: MethodRequest) : ICompressor =
    let budget = budgetOf request
    let options = MethodOptions.apply (SmecOptions(Ladder = Array.ofList (ladder request.InputDim request.Dims))) request.Options
    let options =
        match fixedModules with
        | Some on ->
            let flag = if on then "true" else "false"
            MethodOptions.apply options (Map.ofList [ "smrl", flag; "ads", flag; "sxbm", flag ])
        | None -> options
    new SmecCompressor(options, MethodOptions.apply (trainingOptionsOf budget) request.Options)

// ---- the standard registry ------------------------------------------------------------------

let private entries =
    [ { Key = "truncation"; Label = "truncation"; Trains = false
        Summary = "the frozen encoder's first d dims"
        Options = []; Create = truncation; Implementation = "Smec.Core Truncation/2" }
      { Key = "pca"; Label = "PCA"; Trains = false
        Summary = "the top d principal directions of the corpus embeddings"
        Options = []; Create = pca; Implementation = "Smec.Core Pca/2" }
      { Key = "mrl"; Label = "MRL"; Trains = true
        Summary = "one linear layer trained with the summed nested (Matryoshka) losses, prefix dims"
        Options = mrlSpecs; Create = smecCompressor (Some false); Implementation = "Smec.Core SmecCompressor(MRL)/2" }
      { Key = "search-adaptor"; Label = "Search-Adaptor"; Trains = true
        Summary = "one adaptor per target dim, ranking loss with recovery and query-prediction regularisers"
        Options = searchAdaptorSpecs; Create = searchAdaptor; Implementation = "Smec.Core SearchAdaptor/2" }
      { Key = "matryoshka-adaptor"; Label = "Matryoshka-Adaptor"; Trains = true
        Summary = "a residual adaptor trained with nested similarity-preservation losses, then a ranking loss"
        Options = matryoshkaSpecs; Create = matryoshkaAdaptor; Implementation = "Smec.Core MatryoshkaAdaptor/4" }
      { Key = "smec"; Label = "SMEC"; Trains = true
        Summary = "sequential Matryoshka steps (SMRL) with adaptive dimension selection (ADS) and cross-batch memory (S-XBM)"
        Options = smecSpecs; Create = smecCompressor None; Implementation = "Smec.Core SmecCompressor/2" } ]

/// The registry the `smec` command, the catalog and scripts use.
let standard : MethodRegistry =
    { Entries = entries |> List.map (fun e -> e.Key, e) |> Map.ofList }

/// The entry of a standard key (the catalog's own keys: a missing one is a bug).
let entry (key: string) =
    match standard.TryEntry key with
    | Some e -> e
    | None -> failwithf "the standard registry has no method '%s'" key
