/// `smec compress`: compress a stored .npy of frozen-encoder embeddings with a saved SMEC model.
module Smec.Experiments.Cli.CompressCommand

open Argu
open Smec.Core.Methods
open Smec.Core.Methods.SmecMethod
open Smec.Core.Storage

type CompressArgs =
    | [<Mandatory>] Model of dir: string
    | [<Mandatory>] In of path: string
    | [<Mandatory>] Dim of int
    | [<Mandatory>] Out of path: string
    | Role of string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Model _ -> "folder of a model saved by `smec train --out`"
            | In _ -> "input .npy (float32, rows x input dims)"
            | Dim _ -> "target dimension (one the model was trained for)"
            | Out _ -> "output .npy (rows x dim, L2-normalised rows)"
            | Role _ -> "query or document (default document; SMEC treats both alike)"

let run (args: ParseResults<CompressArgs>) : int =
    use model = SmecCompressor.Load(args.GetResult Model)
    let input = args.GetResult In
    let struct (values, rows, cols) = Npy.ReadFloat32 input
    let ids = Array.init rows string
    let role =
        match args.GetResult(Role, "document") with
        | "query" -> EmbeddingRole.Query
        | "document" -> EmbeddingRole.Document
        | r -> failwithf "--role: '%s' is not query or document" r
    let compressed = model.Compress(EmbeddingMatrix(ids, values, cols), args.GetResult Dim, role)
    Npy.WriteFloat32(args.GetResult Out, System.ReadOnlySpan compressed.Values, rows, compressed.Dim)
    eprintfn "%s: %d x %d -> %d x %d with %s" (args.GetResult Out) rows cols rows compressed.Dim model.Name
    0
