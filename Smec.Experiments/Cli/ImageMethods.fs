/// The compression methods `smec images` runs, by command-line name, each built for (dims, input dim).
module Smec.Experiments.Cli.ImageMethods

open System.Collections.Generic
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Training

/// What a method may be tuned with from the command line (recorded in its Settings).
/// The step budget applies to every trained method (per training run: per stage, grid point or SMRL step).
type MethodOptions =
    { Progress: bool
      SearchAdaptorGrid: RegularizerWeights list
      MaxSteps: int
      PatienceSteps: int
      EvaluateEvery: int }

/// Label: the table row.
type MethodEntry = { Name: string; Label: string; Create: MethodOptions -> IReadOnlyList<int> -> int -> ICompressor }

/// The SMEC ladder for the experiment's dims: the input dim, then every smaller dim, largest first.
let private ladder (dims: IReadOnlyList<int>) (inputDim: int) =
    Array.append [| inputDim |] (dims |> Seq.filter (fun d -> d < inputDim) |> Seq.distinct |> Seq.sortDescending |> Array.ofSeq)

let private loop (o: MethodOptions) =
    TrainingOptions(MaxSteps = o.MaxSteps, EvaluateEvery = o.EvaluateEvery, Patience = max 1 (o.PatienceSteps / o.EvaluateEvery), Progress = o.Progress)

/// SMEC with all three modules, or with none of them (one layer, summed nested losses, prefix selection: MRL).
let private smec (withModules: bool) (o: MethodOptions) (dims: IReadOnlyList<int>) (inputDim: int) : ICompressor =
    let options = SmecOptions(Ladder = ladder dims inputDim, Smrl = withModules, Ads = withModules, Sxbm = withModules)
    new SmecCompressor(options, loop o)

/// Command-line names, in table order.
let all : MethodEntry list =
    [ { Name = "truncation"; Label = "Truncation"; Create = fun _ dims _ -> new Truncation(dims) }
      { Name = "pca"; Label = "PCA"; Create = fun _ dims _ -> new Pca(dims) }
      { Name = "mrl"; Label = "MRL"; Create = smec false }
      { Name = "sa"
        Label = "Search-Adaptor"
        Create =
          fun o dims _ ->
              new SearchAdaptor(dims, SearchAdaptorOptions(Grid = Array.ofList o.SearchAdaptorGrid, MaxSteps = o.MaxSteps,
                                                       PatienceSteps = o.PatienceSteps, EvaluateEvery = o.EvaluateEvery, Progress = o.Progress)) }
      { Name = "ma"
        Label = "Matryoshka-Adaptor"
        Create =
          fun o dims _ ->
              new MatryoshkaAdaptor(dims, MatryoshkaAdaptorOptions(MaxStepsPerStage = o.MaxSteps, PatienceSteps = o.PatienceSteps,
                                                               EvaluateEvery = o.EvaluateEvery, Progress = o.Progress)) }
      { Name = "smec"; Label = "SMEC"; Create = smec true } ]

let names = all |> List.map (fun m -> m.Name)

/// The entries for command-line names; "none" selects no method (features and references only).
let select (wanted: string list) =
    wanted
    |> List.filter (fun name -> name.Trim().ToLowerInvariant() <> "none")
    |> List.map (fun name ->
        match all |> List.tryFind (fun m -> m.Name = name.Trim().ToLowerInvariant()) with
        | Some m -> m
        | None -> failwithf "unknown method '%s' (known: %s)" name (String.concat ", " names))
