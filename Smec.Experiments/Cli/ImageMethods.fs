/// The compression methods `smec images` runs, by command-line name, each built for a list of dims.
module Smec.Experiments.Cli.ImageMethods

open System.Collections.Generic
open Smec.Core.Methods
open Smec.Core.Methods.Baselines

/// What a method may be tuned with from the command line (recorded in its Settings).
/// The step budget applies to every trained method (per training run: per stage, per grid point).
type MethodOptions =
    { Progress: bool
      SearchAdaptorGrid: RegularizerWeights list
      MaxSteps: int
      PatienceSteps: int
      EvaluateEvery: int }

type MethodEntry = { Name: string; Create: MethodOptions -> IReadOnlyList<int> -> ICompressor }

/// Command-line names, in table order.
let all : MethodEntry list =
    [ { Name = "truncation"; Create = fun _ dims -> Truncation(dims) }
      { Name = "pca"; Create = fun _ dims -> Pca(dims) }
      { Name = "sa"
        Create =
          fun o dims ->
              SearchAdaptor(dims, SearchAdaptorOptions(Grid = Array.ofList o.SearchAdaptorGrid, MaxSteps = o.MaxSteps,
                                                       PatienceSteps = o.PatienceSteps, EvaluateEvery = o.EvaluateEvery, Progress = o.Progress)) }
      { Name = "ma"
        Create =
          fun o dims ->
              MatryoshkaAdaptor(dims, MatryoshkaAdaptorOptions(MaxStepsPerStage = o.MaxSteps, PatienceSteps = o.PatienceSteps,
                                                               EvaluateEvery = o.EvaluateEvery, Progress = o.Progress)) } ]

let names = all |> List.map (fun m -> m.Name)

/// The entries for command-line names; "none" selects no method (features and references only).
let select (wanted: string list) =
    wanted
    |> List.filter (fun name -> name.Trim().ToLowerInvariant() <> "none")
    |> List.map (fun name ->
        match all |> List.tryFind (fun m -> m.Name = name.Trim().ToLowerInvariant()) with
        | Some m -> m
        | None -> failwithf "unknown method '%s' (known: %s)" name (String.concat ", " names))
