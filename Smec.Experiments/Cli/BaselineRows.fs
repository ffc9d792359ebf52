/// The methods `smec baselines` can run, by command-line name.
module Smec.Experiments.Cli.BaselineRows

open Smec.Core.Methods
open Smec.Core.Methods.Baselines

/// Command-line names, in table order.
let all = [ "full"; "truncation"; "pca"; "ma-unsup"; "ma"; "sa" ]

/// A fresh, unfitted method for a command-line name.
let create (name: string) (dims: int list) (encoderDim: int) (ma: MatryoshkaAdaptorOptions) (grid: RegularizerWeights seq) (progress: bool) : ICompressor =
    match name with
    | "full" -> Truncation.Full encoderDim
    | "truncation" -> Truncation(dims)
    | "pca" -> Pca(dims)
    | "ma-unsup" -> MatryoshkaAdaptor(dims, ma.With(supervised = false))
    | "ma" -> MatryoshkaAdaptor(dims, ma.With(supervised = true))
    | "sa" -> SearchAdaptor(dims, SearchAdaptorOptions(Grid = Array.ofSeq grid, Progress = progress))
    | other -> failwithf "unknown method '%s'; expected one of: %s" other (String.concat ", " all)
