/// The one method registry: a method key -> its table label, whether it learns, its options (names,
/// types, defaults), the factory of its ICompressor, its saved-model kind and loader, the options
/// each catalog profile gives it, its note in a report's protocol table and its docs section. The
/// catalog, sweeps, `smec train`, `smec compress`, the side commands, scripts and notebooks all
/// know methods through it only; adding a method is its class plus one entry (`MethodRegistry.With`).
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
      Seed: int64
      /// Run controls that change no number: the progress display, and a checkpoint path prefix an
      /// interrupted fit resumes from (`smec train --checkpoint`; SMEC and MRL checkpoint).
      Progress: bool
      CheckpointPath: string option }

type MethodFactory = MethodRequest -> ICompressor

/// How a fitted model of a method is stored: the kind its saved-model manifest names (the class's
/// `Kind`), and the loader that builds it back from a SavedModel folder.
type SavedForm =
    { Kind: string
      Load: SavedModelReader -> ICompressor }

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
      Implementation: string
      /// Its saved-model kind and loader (what `smec compress` and SavedModel.Load use).
      Saved: SavedForm
      /// The options a catalog profile gives the method on top of its defaults (part of the configs,
      /// so of the result keys, of every catalog cell and sweep point of that profile).
      ProfileOptions: Profile -> (string * string) list
      /// Why the method's grid or budget can differ from the other rows' in a report's protocol
      /// table, given the row's options.
      ProtocolNote: Map<string, string> -> string
      /// Where the method is described: a docs page and section anchor ("docs/METHOD.md#pca").
      Docs: string }

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

    /// The saved-model loaders of the entries, by kind (entries that share a class share its kind).
    member this.Loaders : System.Collections.Generic.IReadOnlyDictionary<string, System.Func<SavedModelReader, ICompressor>> =
        let loaders = System.Collections.Generic.Dictionary<string, System.Func<SavedModelReader, ICompressor>>(System.StringComparer.Ordinal)
        for entry in this.Entries.Values do
            loaders[entry.Saved.Kind] <- System.Func<SavedModelReader, ICompressor>(entry.Saved.Load)
        loaders

    /// Load any saved model whose kind an entry knows.
    member this.Load(directory: string) : ICompressor = SavedModel.Load(directory, this.Loaders)

/// The SMEC ladder for an experiment: the input dim, then every requested dim below it, largest first.
let ladder (inputDim: int) (dims: int list) =
    inputDim :: (dims |> List.filter (fun d -> d < inputDim) |> List.distinct |> List.sortDescending)

let private budgetOf (request: MethodRequest) =
    match request.Budget with
    | Some b -> b
    | None -> failwithf "method '%s' learns, so its experiment needs a training budget" request.Method

let private dimsOf (request: MethodRequest) = System.Collections.Generic.List<int>(request.Dims)

let private loopOptions (budget: TrainingBudget) (progress: bool) (checkpointPath: string option) =
    TrainingOptions(
        MaxSteps = budget.MaxSteps,
        BatchSize = budget.BatchSize,
        LearningRate = budget.LearningRate,
        EvaluateEvery = budget.ValidateEvery,
        Patience = budget.Patience,
        Progress = progress,
        CheckpointPath = Option.toObj checkpointPath
    )

/// The shared training loop's options for a catalog training budget.
let trainingOptionsOf (budget: TrainingBudget) = loopOptions budget true None

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

let private createTruncation (request: MethodRequest) : ICompressor = new Truncation(dimsOf request)

let private createPca (request: MethodRequest) : ICompressor = new Pca(dimsOf request)

let private createMatryoshkaAdaptor (request: MethodRequest) : ICompressor =
    let budget = budgetOf request
    let options =
        MethodOptions.apply
            (MatryoshkaAdaptorOptions(
                MaxStepsPerStage = budget.MaxSteps,
                BatchSize = budget.BatchSize,
                LearningRate = budget.LearningRate,
                EvaluateEvery = budget.ValidateEvery,
                PatienceSteps = budget.Patience * budget.ValidateEvery,
                Progress = request.Progress
            ))
            request.Options
    new MatryoshkaAdaptor(dimsOf request, options)

let private createSearchAdaptor (request: MethodRequest) : ICompressor =
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
                PatienceSteps = budget.Patience * budget.ValidateEvery,
                Progress = request.Progress
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
    new SmecCompressor(options, MethodOptions.apply (loopOptions budget request.Progress request.CheckpointPath) request.Options)

// ---- the standard registry ------------------------------------------------------------------

/// The local profile's one selection protocol for every trained method: the same optimiser as SMEC
/// (AdamW, weight decay 0.01; the adaptors' papers report Adam without decay, which the paper
/// profile keeps), the same ranking-loss candidates (InfoNCE and pairwise, the better on
/// validation), and the same step budget per trained dim (Matryoshka-Adaptor's one adaptor serves
/// every dim, so its budget is counted per trained dim; MRL's single layer gets SMEC's whole chain
/// budget, see SmecCompressor.StepBudget). Search-Adaptor trains one adaptor per (dim, grid point),
/// so it keeps one (alpha, beta) point (0.1, 0.01) and searches the loss forms: 2 points, as
/// Matryoshka-Adaptor, MRL and SMEC (whose ADS starts from the log-variance: one start, so 2 points too).
let private sharedOptimiser = [ "optimizer", "adam-w"; "weight_decay", "0.01" ]

/// The local profile's primary protocol: every trained method serves each dim from the checkpoint (and
/// grid point) with the best validation nDCG@10 at that dim (docs/METHOD.md, "Selection at every dim").
/// The paper profile keeps each paper's way: one shared checkpoint for MRL and Matryoshka-Adaptor,
/// per dim for Search-Adaptor, and SMEC's steps each early-stopped on their own outputs' mean.
let private perDimSelection = [ "selection", "per-dim" ]

/// A method whose profiles add nothing to its defaults.
let private noProfileOptions (_: Profile) : (string * string) list = []

/// The protocol note of a method whose grid and budget only its options set.
let private optionsSetIt (_: Map<string, string>) = "its options set it"

/// The entry of a method that learns nothing: no options, nothing a profile sets, saved under its key.
let private untrained (key: string) (label: string) (summary: string) (create: MethodFactory) (implementation: string) (load: SavedModelReader -> ICompressor) =
    { Key = key; Label = label; Trains = false; Summary = summary
      Options = []; Create = create; Implementation = implementation
      Saved = { Kind = key; Load = load }
      ProfileOptions = noProfileOptions; ProtocolNote = optionsSetIt; Docs = "docs/METHOD.md#" + key }

let truncation =
    untrained Truncation.Kind "truncation" "the frozen encoder's first d dims" createTruncation "Smec.Core Truncation/2" (fun saved -> Truncation.Load saved)

let pca =
    untrained Pca.Kind "PCA" "the top d principal directions of the corpus embeddings" createPca "Smec.Core Pca/2" (fun saved -> Pca.Load saved)

/// MRL is SMEC's module with SMRL, ADS and S-XBM off: it saves as a SMEC model.
let mrl =
    { Key = "mrl"; Label = "MRL"; Trains = true
      Summary = "one linear layer trained with the summed nested (Matryoshka) losses, prefix dims"
      Options = mrlSpecs; Create = smecCompressor (Some false); Implementation = "Smec.Core SmecCompressor(MRL)/2"
      Saved = { Kind = SmecCompressor.Kind; Load = fun saved -> SmecCompressor.Load saved }
      ProfileOptions =
        function
        | Local -> perDimSelection
        | Paper -> [] // one layer, one checkpoint on the mean over dims: MRL's own training
      ProtocolNote = optionsSetIt; Docs = "docs/METHOD.md#mrl" }

let searchAdaptor =
    { Key = SearchAdaptor.Kind; Label = "Search-Adaptor"; Trains = true
      Summary = "one adaptor per target dim, ranking loss with recovery and query-prediction regularisers"
      Options = searchAdaptorSpecs; Create = createSearchAdaptor; Implementation = "Smec.Core SearchAdaptor/2"
      Saved = { Kind = SearchAdaptor.Kind; Load = fun saved -> SearchAdaptor.Load saved }
      ProfileOptions =
        function
        | Local -> [ "grid", "single"; "ranking_loss_candidates", "info-nce,pairwise" ] @ sharedOptimiser @ perDimSelection
        | Paper -> [] // the paper's Adam, pairwise loss and 3 x 3 grid are the defaults
      ProtocolNote = fun _ -> "its paper's (alpha, beta) regulariser grid is searched per dim"
      Docs = "docs/METHOD.md#search-adaptor" }

let matryoshkaAdaptor =
    { Key = MatryoshkaAdaptor.Kind; Label = "Matryoshka-Adaptor"; Trains = true
      Summary = "a residual adaptor trained with nested similarity-preservation losses, then a ranking loss"
      Options = matryoshkaSpecs; Create = createMatryoshkaAdaptor; Implementation = "Smec.Core MatryoshkaAdaptor/4"
      Saved = { Kind = MatryoshkaAdaptor.Kind; Load = fun saved -> MatryoshkaAdaptor.Load saved }
      ProfileOptions =
        function
        | Local -> [ "budget", "per-trained-dim" ] @ sharedOptimiser @ perDimSelection
        // The paper's variants feed the raw embeddings to the adaptor; its Adam and 5000 steps per stage are the defaults.
        | Paper -> [ "input", "raw" ]
      ProtocolNote =
        fun options ->
            if options.TryFind "supervised" = Some "false" then "the unsupervised variant has no ranking loss and stops without labels"
            else "two stages (unsupervised, then supervised), each with the stated budget"
      Docs = "docs/METHOD.md#matryoshka-adaptor" }

let smec =
    { Key = SmecCompressor.Kind; Label = "SMEC"; Trains = true
      Summary = "sequential Matryoshka steps (SMRL) with adaptive dimension selection (ADS) and cross-batch memory (S-XBM)"
      Options = smecSpecs; Create = smecCompressor None; Implementation = "Smec.Core SmecCompressor/2"
      Saved = { Kind = SmecCompressor.Kind; Load = fun saved -> SmecCompressor.Load saved }
      ProfileOptions =
        function
        // Per-dim selection gives the smallest dim its own snapshot of the last step, selected on that
        // dim alone, at the same budget as every other method (no extra step): ladder_extension stays none.
        | Local -> perDimSelection
        // The paper's ladder ends with the smallest target dim as the last step's selected half (shared).
        | Paper -> []
      ProtocolNote =
        fun options ->
            if options.TryFind "ads" = Some "false" then "its options set it"
            else "its ADS logits learn at their own rate without weight decay (they start on another scale than weights); with option ads_init_candidates it also chooses its initialisation on validation"
      Docs = "docs/METHOD.md#smec--smrl--ads--s-xbm" }

/// The registry the `smec` command, the catalog and scripts use.
let standard : MethodRegistry =
    { Entries = [ truncation; pca; mrl; searchAdaptor; matryoshkaAdaptor; smec ] |> List.map (fun e -> e.Key, e) |> Map.ofList }

/// The entry of a standard key (the catalog's own keys: a missing one is a bug).
let entry (key: string) =
    match standard.TryEntry key with
    | Some e -> e
    | None -> failwithf "the standard registry has no method '%s'" key

/// The options a profile gives a standard method ([] for a key the standard registry does not hold:
/// a method registered by a script is not part of the catalog's profiles).
let profileOptions (profile: Profile) (key: string) =
    match standard.TryEntry key with
    | Some e -> e.ProfileOptions profile
    | None -> []
