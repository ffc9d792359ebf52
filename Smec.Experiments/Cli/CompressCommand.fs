/// `smec compress`: compress a stored .npy of frozen-encoder embeddings with any saved model
/// (SMEC, Matryoshka-Adaptor, Search-Adaptor, PCA, truncation: one format, Smec.Core SavedModel).
module Smec.Experiments.Cli.CompressCommand

open Argu
open Smec.Core.Methods
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
            | Model _ -> "folder of a saved model (`smec train --out`, `smec baselines --save`, ICompressor.Save)"
            | In _ -> "input .npy (float32, rows x input dims)"
            | Dim _ -> "target dimension (one the model was trained for)"
            | Out _ -> "output .npy (rows x dim, L2-normalised rows)"
            | Role _ -> "query or document (default document; the built-in methods treat both alike)"

let run (args: ParseResults<CompressArgs>) : int =
    CatalogSession.guard (fun () ->
        use model = SavedModel.Load(args.GetResult Model)
        let input = args.GetResult In
        let struct (values, rows, cols) = Npy.ReadFloat32 input
        let ids = Array.init rows string
        let role =
            match args.GetResult(Role, "document") with
            | "query" -> EmbeddingRole.Query
            | "document" -> EmbeddingRole.Document
            | r -> failwithf "--role: '%s' is not query or document" r
        if not (Seq.contains (args.GetResult Dim) model.Dims) then
            failwithf "--dim %d: the model in %s makes dims %s" (args.GetResult Dim) (args.GetResult Model) (model.Dims |> Seq.map string |> String.concat ", ")
        let compressed = model.Compress(EmbeddingMatrix(ids, values, cols), args.GetResult Dim, role)
        Npy.WriteFloat32(args.GetResult Out, System.ReadOnlySpan compressed.Values, rows, compressed.Dim)
        eprintfn "%s: %d x %d -> %d x %d with %s" (args.GetResult Out) rows cols rows compressed.Dim model.Name
        0)
