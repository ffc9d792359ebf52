/// Method name + options -> ICompressor. The catalog names methods by key ("smec", "pca", ...);
/// the registry turns a key into an implementation. Implementations live in Smec.Core and are
/// registered in `standard` as they land; until then a key maps to the reason it is pending.
module Smec.Experiments.Running.MethodRegistry

open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Training
open Smec.Experiments.Catalog.Model

/// What a factory gets: the experiment's method options, dims, budget and seed, and the input dims.
type MethodRequest =
    { Method: string
      Options: Map<string, string>
      /// The dims to produce (the experiment's dims that fit the input).
      Dims: int list
      InputDim: int
      Budget: TrainingBudget option
      Seed: int64 }

type MethodFactory = MethodRequest -> ICompressor

/// An implementation of a method key. `Implementation` names it and its version ("Smec.Core Pca/1")
/// and is part of the key of every stored result: bump the version when the method's numbers change,
/// so that cached results of the old code are recomputed.
type MethodEntry =
    { Create: MethodFactory
      Implementation: string }

type MethodRegistry =
    { Factories: Map<string, MethodEntry>
      /// Keys the catalog uses whose implementation has not landed, with where it comes from.
      Pending: Map<string, string> }

    /// The implementation tag of a key ("" when none is registered).
    member this.ImplementationOf(key: string) =
        match this.Factories.TryFind key with
        | Some entry -> entry.Implementation
        | None -> ""

    member this.Resolve(key: string) : Result<MethodFactory, string> =
        match this.Factories.TryFind key, this.Pending.TryFind key with
        | Some entry, _ -> Ok entry.Create
        | None, Some reason -> Error(sprintf "method '%s' is not available yet: %s" key reason)
        | None, None ->
            Error(sprintf "method '%s' is not registered (known: %s)" key (this.Factories |> Seq.map (fun kv -> kv.Key) |> String.concat ", "))

    member this.With(key: string, factory: MethodFactory, implementation: string) =
        { this with Factories = this.Factories.Add(key, { Create = factory; Implementation = implementation }); Pending = this.Pending.Remove key }

/// An option's value, or its default (options not set keep the catalog's config hash unchanged).
let option (request: MethodRequest) (name: string) (defaultValue: string) =
    request.Options |> Map.tryFind name |> Option.defaultValue defaultValue

/// Options a method does not know are an error, not silently ignored.
let private requireKnown (request: MethodRequest) (known: string list) =
    match request.Options |> Map.toList |> List.map fst |> List.filter (fun k -> not (List.contains k known)) with
    | [] -> ()
    | unknown ->
        failwithf "method '%s' has no option(s) %s (known: %s)" request.Method (String.concat ", " unknown)
            (if known.IsEmpty then "none" else String.concat ", " known)

let private number (request: MethodRequest) (name: string) (defaultValue: float) =
    match option request name "" with
    | "" -> defaultValue
    | text ->
        match System.Double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> failwithf "method '%s': option '%s' is '%s', expected a number" request.Method name text

let private budgetOf (request: MethodRequest) =
    match request.Budget with
    | Some b -> b
    | None -> failwithf "method '%s' learns, so its experiment needs a training budget" request.Method

let private dimsOf (request: MethodRequest) = System.Collections.Generic.List<int>(request.Dims)

let private truncation (request: MethodRequest) : ICompressor =
    requireKnown request []
    Truncation(dimsOf request)

let private pca (request: MethodRequest) : ICompressor =
    requireKnown request []
    Pca(dimsOf request)

/// Matryoshka-Adaptor with the experiment's budget; options supervised (true), alpha, beta, gamma (1).
let private matryoshkaAdaptor (request: MethodRequest) : ICompressor =
    requireKnown request [ "supervised"; "alpha"; "beta"; "gamma" ]
    let budget = budgetOf request
    let options =
        MatryoshkaAdaptorOptions(
            Supervised = (option request "supervised" "true" = "true"),
            Alpha = number request "alpha" 1.0,
            Beta = number request "beta" 1.0,
            Gamma = number request "gamma" 1.0,
            MaxStepsPerStage = budget.MaxSteps,
            BatchSize = budget.BatchSize,
            LearningRate = budget.LearningRate,
            EvaluateEvery = budget.ValidateEvery,
            PatienceSteps = budget.Patience * budget.ValidateEvery
        )
    MatryoshkaAdaptor(dimsOf request, options)

/// Search-Adaptor (one adaptor per dim) with the experiment's budget; option grid = full (3 x 3
/// alpha, beta points chosen on validation, the paper's) or reduced (the 3 diagonal points).
let private searchAdaptor (request: MethodRequest) : ICompressor =
    requireKnown request [ "grid" ]
    let budget = budgetOf request
    let grid =
        match option request "grid" "full" with
        | "full" -> SearchAdaptorOptions.FullGrid
        | "reduced" -> SearchAdaptorOptions.ReducedGrid
        | other -> failwithf "method 'search-adaptor': option 'grid' is '%s', expected full or reduced" other
    let options =
        SearchAdaptorOptions(
            Grid = grid,
            MaxSteps = budget.MaxSteps,
            BatchSize = budget.BatchSize,
            LearningRate = budget.LearningRate,
            EvaluateEvery = budget.ValidateEvery,
            PatienceSteps = budget.Patience * budget.ValidateEvery
        )
    SearchAdaptor(dimsOf request, options)

/// The SMEC ladder: the input width, then every smaller target dim, largest first.
let private ladderOf (request: MethodRequest) =
    Array.ofList (request.InputDim :: (request.Dims |> List.filter (fun d -> d < request.InputDim) |> List.sortDescending |> List.distinct))

let private trainingOf (request: MethodRequest) =
    let budget = budgetOf request
    TrainingOptions(
        MaxSteps = budget.MaxSteps,
        BatchSize = budget.BatchSize,
        LearningRate = budget.LearningRate,
        EvaluateEvery = budget.ValidateEvery,
        Patience = budget.Patience)

let private flag (request: MethodRequest) (name: string) =
    match option request name "true" with
    | "true" -> true
    | "false" -> false
    | other -> failwithf "method '%s': option '%s' is '%s', expected true or false" request.Method name other

/// SMEC with its three modules switchable for the ablation (options smrl, ads, sxbm; default on).
let private smec (request: MethodRequest) : ICompressor =
    requireKnown request [ "smrl"; "ads"; "sxbm" ]
    new SmecCompressor(
        SmecOptions(Ladder = ladderOf request, Smrl = flag request "smrl", Ads = flag request "ads", Sxbm = flag request "sxbm"),
        trainingOf request)

/// MRL: SMEC's module with SMRL, ADS and S-XBM off (one layer, summed nested losses over prefixes).
let private mrl (request: MethodRequest) : ICompressor =
    requireKnown request []
    new SmecCompressor(SmecOptions(Ladder = ladderOf request, Smrl = false, Ads = false, Sxbm = false), trainingOf request)

/// The registry the `smec` command uses.
let standard : MethodRegistry =
    { Factories =
        Map.ofList
            [ "truncation", { Create = truncation; Implementation = "Smec.Core Truncation/1" }
              "pca", { Create = pca; Implementation = "Smec.Core Pca/1" }
              "matryoshka-adaptor", { Create = matryoshkaAdaptor; Implementation = "Smec.Core MatryoshkaAdaptor/1" }
              "search-adaptor", { Create = searchAdaptor; Implementation = "Smec.Core SearchAdaptor/1" }
              "smec", { Create = smec; Implementation = "Smec.Core SmecCompressor/1" }
              "mrl", { Create = mrl; Implementation = "Smec.Core SmecCompressor-MRL/1" } ]
      Pending = Map.empty }
