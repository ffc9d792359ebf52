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
    new Truncation(dimsOf request)

let private pca (request: MethodRequest) : ICompressor =
    requireKnown request []
    new Pca(dimsOf request)

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
    new MatryoshkaAdaptor(dimsOf request, options)

/// Search-Adaptor (one adaptor per dim) with the experiment's budget; option grid = full (the
/// paper's 3 x 3 alpha, beta points, chosen on validation), reduced (its 3 diagonal points) or
/// single (the middle point alpha 0.1, beta 0.01, no search).
let private searchAdaptor (request: MethodRequest) : ICompressor =
    requireKnown request [ "grid" ]
    let budget = budgetOf request
    let grid =
        match option request "grid" "full" with
        | "full" -> SearchAdaptorOptions.FullGrid
        | "reduced" -> SearchAdaptorOptions.ReducedGrid
        | "single" -> [| RegularizerWeights(0.1, 0.01) |] :> System.Collections.Generic.IReadOnlyList<_>
        | other -> failwithf "method 'search-adaptor': option 'grid' is '%s', expected full, reduced or single" other
    let options =
        SearchAdaptorOptions(
            Grid = grid,
            MaxSteps = budget.MaxSteps,
            BatchSize = budget.BatchSize,
            LearningRate = budget.LearningRate,
            EvaluateEvery = budget.ValidateEvery,
            PatienceSteps = budget.Patience * budget.ValidateEvery
        )
    new SearchAdaptor(dimsOf request, options)

let private flag (request: MethodRequest) (name: string) =
    match option request name "true" with
    | "true" -> true
    | "false" -> false
    | other -> failwithf "method '%s': option '%s' is '%s', expected true or false" request.Method name other

/// The shared training loop's options for a catalog training budget.
let trainingOptionsOf (budget: TrainingBudget) =
    TrainingOptions(
        MaxSteps = budget.MaxSteps,
        BatchSize = budget.BatchSize,
        LearningRate = budget.LearningRate,
        EvaluateEvery = budget.ValidateEvery,
        Patience = budget.Patience
    )

/// SMEC's ladder runs from the input dim down through every requested dim below it.
let private smecWith (request: MethodRequest) (smrl: bool) (ads: bool) (sxbm: bool) : ICompressor =
    let budget = budgetOf request
    let ladder = request.InputDim :: (request.Dims |> List.filter (fun d -> d < request.InputDim) |> List.sortDescending)
    let options = SmecOptions(Ladder = Array.ofList ladder, Smrl = smrl, Ads = ads, Sxbm = sxbm)
    new SmecCompressor(options, trainingOptionsOf budget)

/// SMEC; options smrl, ads, sxbm (true) switch its modules off for the ablation (item 6).
let private smec (request: MethodRequest) : ICompressor =
    requireKnown request [ "smrl"; "ads"; "sxbm" ]
    smecWith request (flag request "smrl") (flag request "ads") (flag request "sxbm")

/// MRL: one FC layer trained with the summed nested losses, prefix dims, no memory (SMEC with all
/// three modules off, which is how branch smec implements it).
let private mrl (request: MethodRequest) : ICompressor =
    requireKnown request []
    smecWith request false false false

/// The registry the `smec` command uses.
let standard : MethodRegistry =
    { Factories =
        Map.ofList
            [ "truncation", { Create = truncation; Implementation = "Smec.Core Truncation/1" }
              "pca", { Create = pca; Implementation = "Smec.Core Pca/1" }
              "matryoshka-adaptor", { Create = matryoshkaAdaptor; Implementation = "Smec.Core MatryoshkaAdaptor/3" }
              "search-adaptor", { Create = searchAdaptor; Implementation = "Smec.Core SearchAdaptor/1" }
              "mrl", { Create = mrl; Implementation = "Smec.Core SmecCompressor(MRL)/1" }
              "smec", { Create = smec; Implementation = "Smec.Core SmecCompressor/1" } ]
      Pending = Map.empty }
