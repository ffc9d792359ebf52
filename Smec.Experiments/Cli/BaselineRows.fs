/// The methods `smec baselines` can run, by command-line name.
module Smec.Experiments.Cli.BaselineRows

open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Training

/// Command-line names, in table order.
let all = [ "full"; "truncation"; "pca"; "mrl"; "sa"; "ma-unsup"; "ma"; "smec" ]

/// The SMEC ladder for a table: the encoder's width, then every smaller target dim.
let private ladder (encoderDim: int) (dims: int list) =
    Array.ofList (encoderDim :: (dims |> List.filter (fun d -> d < encoderDim) |> List.sortDescending))

/// A fresh, unfitted method for a command-line name, with the label its table row shows. MRL is the
/// SMEC module with SMRL, ADS and S-XBM off (one layer, summed nested losses), as the SMEC helper built it.
let create (name: string) (dims: int list) (encoderDim: int) (ma: MatryoshkaAdaptorOptions) (grid: RegularizerWeights seq) (progress: bool)
    : string * ICompressor =
    match name with
    | "full" -> "Full", Truncation.Full encoderDim
    | "truncation" -> "Truncation", new Truncation(dims)
    | "pca" -> "PCA", new Pca(dims)
    | "mrl" -> "MRL", new SmecCompressor(SmecOptions(Ladder = ladder encoderDim dims, Smrl = false, Ads = false, Sxbm = false), TrainingOptions(Progress = progress))
    | "sa" -> "Search-Adaptor", new SearchAdaptor(dims, SearchAdaptorOptions(Grid = Array.ofSeq grid, Progress = progress))
    | "ma-unsup" -> "MA-unsup", new MatryoshkaAdaptor(dims, ma.With(supervised = false))
    | "ma" -> "Matryoshka-Adaptor", new MatryoshkaAdaptor(dims, ma.With(supervised = true))
    | "smec" -> "SMEC", new SmecCompressor(SmecOptions(Ladder = ladder encoderDim dims), TrainingOptions(Progress = progress))
    | other -> failwithf "unknown method '%s'; expected one of: %s" other (String.concat ", " all)
