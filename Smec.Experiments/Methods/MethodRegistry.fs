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

/// One point of a method's tuning grid: option overrides over the method's own key weights, and
/// `learning_rate` (the budget's rate, which is not an option; a point may set it, since a map that
/// starts from PCA and one that starts from the identity need not share a rate). [] = the defaults.
type GridPoint = (string * string) list

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
      /// Each profile's tuning grid (option `tuning`: local-grid or paper-grid searches it; default
      /// fits the options as given). The first point is the method's default; [] for a method that
      /// learns nothing. The points searched are written into the result key (Runner.resolvedOptionsOf).
      TuningGrid: Profile -> GridPoint list
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
        // A searched grid saves its chosen points in sub-folders, each loaded by its own kind's loader.
        loaders[GridSearchCompressor.Kind] <-
            System.Func<SavedModelReader, ICompressor>(fun saved -> GridSearchCompressor.Load(saved, loaders) :> ICompressor)
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

/// Search-Adaptor's regulariser weights (alpha, beta): one point per fit (SearchAdaptorOptions.Grid
/// holds it); its paper's 3 x 3 grid is its paper-grid under option `tuning`, the one way every
/// method's weights are searched.
let private searchAdaptorSpecs =
    [ { Name = "alpha"; Kind = Number; Default = "0.1"; Doc = "SearchAdaptorOptions.Grid: the L1 recovery weight" }
      { Name = "beta"; Kind = Number; Default = "0.01"; Doc = "SearchAdaptorOptions.Grid: the query-prediction weight" } ]
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
    let grid = [| RegularizerWeights(number request.Options "alpha", number request.Options "beta") |] :> System.Collections.Generic.IReadOnlyList<_>
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

// ---- tuning: one mechanism for every trained method ------------------------------------------

/// The key of a grid point's learning rate (the budget's rate: not an option of any method).
let learningRateKey = "learning_rate"

let private localGridName = "local-grid"
let private paperGridName = "paper-grid"

/// Option `tuning`, one meaning for every trained method: `default` fits the options as given (one
/// fit per loss form, as the method's Fit searches those); `local-grid` / `paper-grid` searches that
/// profile's grid (MethodEntry.TuningGrid) inside the one experiment: every point fitted on the same
/// training data, chosen on validation nDCG@10 as option `selection` says (shared when absent). A
/// grid point's values replace the options it sets.
let tuningSpec =
    { Name = "tuning"; Kind = Choice [ "default"; localGridName; paperGridName ]; Default = "default"
      Doc = "default (the options as given, one point), local-grid or paper-grid (search that profile's tuning grid, chosen on validation nDCG@10)" }

/// The option `tuning` a catalog profile gives every trained method: its own grid.
let tuningOf (profile: Profile) =
    [ tuningSpec.Name, (match profile with Local -> localGridName | Paper -> paperGridName) ]

/// The grid that resolved options ask for: a profile's grid, or the one default point.
let gridOf (grids: Profile -> GridPoint list) (options: Map<string, string>) : GridPoint list =
    match options.TryFind tuningSpec.Name with
    | Some name when name = localGridName -> grids Local
    | Some name when name = paperGridName -> grids Paper
    | _ -> [ [] ]

/// A point as text: "learning_rate=0.001 alpha=0.1 beta=0.01" ("defaults" for the empty point).
let pointLabel (point: GridPoint) =
    if point.IsEmpty then "defaults" else point |> List.map (fun (k, v) -> k + "=" + v) |> String.concat " "

let private invariant = System.Globalization.CultureInfo.InvariantCulture

/// The request of one grid point: its option overrides on the resolved options, its rate on the
/// budget, and (when the fit checkpoints) its own checkpoint prefix.
let pointRequest (request: MethodRequest) (index: int) (point: GridPoint) =
    let rates, overrides = point |> List.partition (fun (k, _) -> k = learningRateKey)
    let budget =
        match rates, request.Budget with
        | (_, rate) :: _, Some b -> Some { b with LearningRate = System.Double.Parse(rate, invariant) }
        | _ -> request.Budget
    { request with
        Options = overrides |> List.fold (fun options (k, v) -> Map.add k v options) request.Options
        Budget = budget
        CheckpointPath = request.CheckpointPath |> Option.map (fun path -> sprintf "%s.tuning%d" path (index + 1)) }

/// How the grid's points are chosen: option `selection` when the method has it, else shared.
let private selectionOf (options: Map<string, string>) =
    match options.TryFind "selection" with
    | Some "per-dim" -> DimSelection.PerDim
    | _ -> DimSelection.Shared

/// A grid replaces the options it varies: one of them set away from its default as well is refused
/// (a sweep axis over it would otherwise be silently overridden by every point).
let private refuseOverridden (specs: OptionSpec list) (points: GridPoint list) (options: Map<string, string>) =
    let defaults = specs |> List.map (fun spec -> spec.Name, spec.Default) |> Map.ofList
    for name in points |> List.collect (List.map fst) |> List.distinct do
        match options.TryFind name, defaults.TryFind name with
        | Some given, Some fallback when given <> fallback ->
            let values = points |> List.choose (List.tryFind (fst >> (=) name) >> Option.map snd) |> List.distinct |> String.concat ", "
            failwithf "option %s=%s is set, but option tuning=%s searches it (its grid tries %s): set tuning=default to fix %s yourself, or leave %s to the grid"
                name given options[tuningSpec.Name] values name name
        | _ -> ()

/// A factory that searches the grid option `tuning` asks for: one point is the plain compressor
/// (its overrides applied, nothing wrapped, so `tuning=default` keeps today's model and numbers);
/// more points are a GridSearchCompressor over them. `specs` are the method's options (their defaults).
let tuned (specs: OptionSpec list) (grids: Profile -> GridPoint list) (create: MethodFactory) : MethodFactory =
    fun request ->
        let points = gridOf grids request.Options
        refuseOverridden specs points request.Options
        match points with
        | [] -> create request
        | [ point ] -> create (pointRequest request 0 point)
        | points ->
            let built = ResizeArray<TuningPoint>()
            try
                points |> List.iteri (fun i point -> built.Add(TuningPoint(pointLabel point, create (pointRequest request i point))))
                new GridSearchCompressor(built, selectionOf request.Options) :> ICompressor
            with _ ->
                for point in built do point.Compressor.Dispose()
                reraise ()

let private numberText (v: float) = v.ToString("R", invariant)

/// Weight settings x learning rates, the default setting and rate first (so the first point is
/// the method's default, and wins a tie).
let private crossed (settings: GridPoint list) (rates: float list) : GridPoint list =
    [ for setting in settings do
          for rate in rates -> setting @ [ learningRateKey, numberText rate ] ]

/// Learning rates of the local grids. The maps that start at PCA (SMEC's and MRL's layers,
/// Search-Adaptor's projection) try the budget's 1e-3 and a smaller 3e-4, which stays nearer that
/// good start; Matryoshka-Adaptor's residual branch starts at zero (the identity map) and must grow
/// from nothing, so it tries 1e-3 and a larger 3e-3.
let private fromPcaRates = [ 1e-3; 3e-4 ]
let private fromIdentityRates = [ 1e-3; 3e-3 ]

/// The paper profile's grid of a method whose paper reports none: its default point.
let private paperDefault : GridPoint list = [ [] ]

let private searchAdaptorGrid =
    function
    // Today's single point (0.1, 0.01), and the diagonal's strongest regularisation (1, 0.1):
    // local training sets are small, so overfitting is the risk the regularisers address.
    | Local -> crossed [ [ "alpha", "0.1"; "beta", "0.01" ]; [ "alpha", "1"; "beta", "0.1" ] ] fromPcaRates
    // Its paper's 3 x 3 grid, at the budget's rate.
    | Paper -> [ for w in SearchAdaptorOptions.FullGrid -> [ "alpha", numberText w.Alpha; "beta", numberText w.Beta ] ]

let private matryoshkaAdaptorGrid =
    function
    // The default weights (1, 1, 1), and ranking-led (0.1, 0.1, 1): the pairwise and reconstruction
    // terms keep the frozen geometry, which the labels may want left behind.
    | Local -> crossed [ [ "alpha", "1"; "beta", "1"; "gamma", "1" ]; [ "alpha", "0.1"; "beta", "0.1"; "gamma", "1" ] ] fromIdentityRates
    | Paper -> paperDefault

let private smecGrid =
    function
    // The ADS logits' rate relative to the layer's: the default 10, and 1. The investigation of
    // docs/METHOD.md ("Why SMEC's last step keeps its start (investigation, 2026-12-07)") found that at 10 x 1e-3 the logits
    // cross the small log-variance gaps between PCA dims within tens of steps, swap 10-12 of the 24
    // dims a step keeps, and lose validation nDCG@10 while the loss falls; at 1 they do not. The
    // S-XBM weight and weight decay made no difference there, so the grid spends its points on the
    // factor that did: a grid over the learning rate alone with the scale at 10 reaches a safe logit
    // rate only where the layer is too slow for the budget.
    | Local -> crossed [ [ "ads_learning_rate_scale", "10" ]; [ "ads_learning_rate_scale", "1" ] ] fromPcaRates
    | Paper -> paperDefault

let private mrlGrid =
    function
    // Every nested dim weighted alike (MRL's paper), or toward the small dims where compression costs most.
    | Local -> crossed [ [ "dim_weighting", "uniform" ]; [ "dim_weighting", "toward-small" ] ] fromPcaRates
    | Paper -> paperDefault

/// A grid as a report states it: its size and its points.
let describeGrid (points: GridPoint list) =
    match points with
    | [] | [ [] ] -> "1 point (the defaults)"
    | _ -> sprintf "%d points: %s" points.Length (points |> List.map pointLabel |> String.concat "; ")

// ---- the standard registry ------------------------------------------------------------------

/// The local profile's one selection protocol for every trained method: the same optimiser as SMEC
/// (AdamW, weight decay 0.01; the adaptors' papers report Adam without decay, which the paper
/// profile keeps), the same ranking-loss candidates (InfoNCE and pairwise, the better on
/// validation), and the same step budget per trained dim (Matryoshka-Adaptor's one adaptor serves
/// every dim, so its budget is counted per trained dim; MRL's single layer gets SMEC's whole chain
/// budget, see SmecCompressor.StepBudget), and tuning grids of the same size: each searches its
/// local grid (option `tuning`: 2 settings of its own key weights x 2 learning rates) besides the
/// 2 loss forms its Fit tries, so every trained method gets 8 fits per experiment.
let private sharedOptimiser = [ "optimizer", "adam-w"; "weight_decay", "0.01" ]

/// The function class of every learned map (option function_class, one meaning for every trained
/// method; Smec.Core ProtocolChoices.FunctionClass), so capacity is never a silent difference between
/// rows. The local profile is the primary protocol and gives every trained method one form, linear:
/// it is SMEC's and MRL's own form, the cheapest, and has no hidden width to choose; the residual MLP
/// is the robustness variant (a sweep or an option sets it). The paper profile keeps each paper's own
/// form, written out so the configs say it: SMEC and MRL linear, Matryoshka-Adaptor and
/// Search-Adaptor the residual MLP.
let private localFunctionClass = [ "function_class", "linear" ]
let private paperFunctionClass (form: FunctionClass) = [ "function_class", ProtocolRecord.Word form ]

/// SMEC's and MRL's profiles: their defaults plus the function class (linear in both profiles).
let private smecProfileOptions =
    function
    | Local -> localFunctionClass
    | Paper -> paperFunctionClass FunctionClass.Linear

/// The local profile's primary protocol: every trained method serves each dim from the checkpoint (and
/// grid point) with the best validation nDCG@10 at that dim (docs/METHOD.md, "Selection at every dim").
/// The paper profile keeps each paper's way: one shared checkpoint for MRL and Matryoshka-Adaptor,
/// per dim for Search-Adaptor, and SMEC's steps each early-stopped on their own outputs' mean.
let private perDimSelection = [ "selection", "per-dim" ]

/// The selection a profile gives every trained method: per dim locally, each paper's own way (the defaults) in the paper profile.
let private profileSelection (profile: Profile) =
    match profile with
    | Local -> perDimSelection
    | Paper -> []

/// A method whose profiles add nothing to its defaults.
let private noProfileOptions (_: Profile) : (string * string) list = []

/// The protocol note of a method whose grid and budget only its options set.
let private optionsSetIt (_: Map<string, string>) = "its options set it"

/// The entry of a method that learns nothing: no options, nothing a profile sets, saved under its key.
let private untrained (key: string) (label: string) (summary: string) (create: MethodFactory) (implementation: string) (load: SavedModelReader -> ICompressor) =
    { Key = key; Label = label; Trains = false; Summary = summary
      Options = []; Create = create; Implementation = implementation
      Saved = { Kind = key; Load = load }
      ProfileOptions = noProfileOptions; TuningGrid = (fun _ -> []); ProtocolNote = optionsSetIt; Docs = "docs/METHOD.md#" + key }

let truncation =
    untrained Truncation.Kind "truncation" "the frozen encoder's first d dims" createTruncation "Smec.Core Truncation/2" (fun saved -> Truncation.Load saved)

let pca =
    untrained Pca.Kind "PCA" "the top d principal directions of the corpus embeddings" createPca "Smec.Core Pca/2" (fun saved -> Pca.Load saved)

/// MRL is SMEC's module with SMRL, ADS and S-XBM off: it saves as a SMEC model.
let mrl =
    { Key = "mrl"; Label = "MRL"; Trains = true
      Summary = "one linear layer trained with the summed nested (Matryoshka) losses, prefix dims"
      Options = mrlSpecs @ [ tuningSpec ]; Create = tuned mrlSpecs mrlGrid (smecCompressor (Some false)); Implementation = "Smec.Core SmecCompressor(MRL)/2"
      Saved = { Kind = SmecCompressor.Kind; Load = fun saved -> SmecCompressor.Load saved }
      ProfileOptions = (fun profile -> smecProfileOptions profile @ tuningOf profile @ profileSelection profile); TuningGrid = mrlGrid; ProtocolNote = optionsSetIt; Docs = "docs/METHOD.md#mrl" }

let searchAdaptor =
    { Key = SearchAdaptor.Kind; Label = "Search-Adaptor"; Trains = true
      Summary = "one adaptor per target dim, ranking loss with recovery and query-prediction regularisers"
      Options = searchAdaptorSpecs @ [ tuningSpec ]; Create = tuned searchAdaptorSpecs searchAdaptorGrid createSearchAdaptor; Implementation = "Smec.Core SearchAdaptor/2"
      Saved = { Kind = SearchAdaptor.Kind; Load = fun saved -> SearchAdaptor.Load saved }
      ProfileOptions =
        function
        | Local -> [ "ranking_loss_candidates", "info-nce,pairwise" ] @ sharedOptimiser @ localFunctionClass @ tuningOf Local @ perDimSelection
        // The paper's Adam and pairwise loss are the defaults, its 3 x 3 grid the paper-grid; its residual MLP is written out.
        | Paper -> paperFunctionClass FunctionClass.ResidualMlp @ tuningOf Paper
      TuningGrid = searchAdaptorGrid
      ProtocolNote = fun _ -> "one adaptor per dim; its (alpha, beta) regulariser weights are searched through its tuning grid"
      Docs = "docs/METHOD.md#search-adaptor" }

let matryoshkaAdaptor =
    { Key = MatryoshkaAdaptor.Kind; Label = "Matryoshka-Adaptor"; Trains = true
      Summary = "a residual adaptor trained with nested similarity-preservation losses, then a ranking loss"
      Options = matryoshkaSpecs @ [ tuningSpec ]; Create = tuned matryoshkaSpecs matryoshkaAdaptorGrid createMatryoshkaAdaptor; Implementation = "Smec.Core MatryoshkaAdaptor/4"
      Saved = { Kind = MatryoshkaAdaptor.Kind; Load = fun saved -> MatryoshkaAdaptor.Load saved }
      ProfileOptions =
        function
        | Local -> [ "budget", "per-trained-dim" ] @ sharedOptimiser @ localFunctionClass @ tuningOf Local @ perDimSelection
        // The paper's variants feed the raw embeddings to the adaptor; its Adam and 5000 steps per stage are the defaults.
        | Paper -> [ "input", "raw" ] @ paperFunctionClass FunctionClass.ResidualMlp @ tuningOf Paper
      TuningGrid = matryoshkaAdaptorGrid
      ProtocolNote =
        fun options ->
            if options.TryFind "supervised" = Some "false" then "the unsupervised variant has no ranking loss and stops without labels"
            else "two stages (unsupervised, then supervised), each with the stated budget"
      Docs = "docs/METHOD.md#matryoshka-adaptor" }

let smec =
    { Key = SmecCompressor.Kind; Label = "SMEC"; Trains = true
      Summary = "sequential Matryoshka steps (SMRL) with adaptive dimension selection (ADS) and cross-batch memory (S-XBM)"
      Options = smecSpecs @ [ tuningSpec ]; Create = tuned smecSpecs smecGrid (smecCompressor None); Implementation = "Smec.Core SmecCompressor/2"
      Saved = { Kind = SmecCompressor.Kind; Load = fun saved -> SmecCompressor.Load saved }
      // Locally, per-dim selection gives the smallest dim its own snapshot of the last step, selected on that
      // dim alone, at the same budget as every other method (no extra step): ladder_extension stays none.
      // The paper's ladder ends with the smallest target dim as the last step's selected half (shared).
      ProfileOptions = (fun profile -> smecProfileOptions profile @ tuningOf profile @ profileSelection profile); TuningGrid = smecGrid
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
