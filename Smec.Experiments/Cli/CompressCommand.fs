/// `smec compress`: compress a stored .npy of frozen-encoder embeddings with any saved model
/// (one format, Smec.Core SavedModel; the method registry's entries hold the loaders).
module Smec.Experiments.Cli.CompressCommand

open Argu
open Smec.Core.Methods
open Smec.Core.Storage
open Smec.Experiments.Methods
open Smec.Experiments.Cli.UserErrors

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

/// Compress with a model whose kind an entry of `methods` knows (its saved-model loader).
let private compressWith (methods: MethodRegistry.MethodRegistry) (args: ParseResults<CompressArgs>) : int =
    // Every option is checked before the model loads or anything is written.
    let role =
        match oneOf "--role" "role" [ "query"; "document" ] (args.GetResult(Role, "document")) with
        | "query" -> EmbeddingRole.Query
        | _ -> EmbeddingRole.Document
    let modelDir = requireFolder "--model" (args.GetResult Model)
    let input = requireFile "--in" (args.GetResult In)
    let out = requireWritableFile "--out" (args.GetResult Out)
    let dim = requirePositive "--dim" (args.GetResult Dim)
    // Load checks the tensors' SHA-256 and the seal every save writes (model.json included).
    use model = methods.Load modelDir
    if not (model.Dims |> Seq.contains dim) then
        userError "--dim: the model in %s was trained for dims %s, not %d; expected one of them" modelDir (model.Dims |> Seq.map string |> String.concat ", ") dim
    let struct (values, rows, cols) = Npy.ReadFloat32 input
    Smec.Core.Runtime.Finite.RequireRows(System.ReadOnlySpan values, cols, input, fun row -> sprintf "row %d" row)
    let ids = Array.init rows string
    let compressed =
        // The methods check the input width and name themselves; the user needs the file too.
        try model.Compress(EmbeddingMatrix(ids, values, cols), dim, role)
        with :? System.ArgumentException as e ->
            userError "%s: %d-d rows do not fit the model in %s (%s); expected rows as wide as the embeddings it was fitted on" input cols modelDir e.Message
    Smec.Core.Runtime.Finite.RequireRows(System.ReadOnlySpan compressed.Values, compressed.Dim, sprintf "the output of %s" modelDir, fun row -> sprintf "input row %d" row)
    Npy.WriteFloat32(out, System.ReadOnlySpan compressed.Values, rows, compressed.Dim)
    eprintfn "%s: %d x %d -> %d x %d with %s" out rows cols rows compressed.Dim model.Name
    0

/// `smec compress`: the standard registry's methods.
let run (args: ParseResults<CompressArgs>) : int = compressWith MethodRegistry.standard args

/// `smec compress ARGS` in-process with another registry: a script's own method, registered there.
let runWith (methods: MethodRegistry.MethodRegistry) (argv: string array) : int =
    compressWith methods (ArgumentParser.Create<CompressArgs>(programName = "smec compress").Parse argv)
