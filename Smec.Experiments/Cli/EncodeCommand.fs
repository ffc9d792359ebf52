/// `smec encode`: build or reuse the embeddings of a dataset under an encoder, and say where they are.
module Smec.Experiments.Cli.EncodeCommand

open System
open System.IO
open Argu
open Smec.Core.Storage
open Smec.Experiments.Cli.UserErrors

type EncodeArgs =
    | [<Mandatory>] Dataset of id: string
    | [<Mandatory>] Encoder of id: string
    | Data_Path of path: string
    | Parts of names: string list
    | Per_Class of spec: string
    | Seed of seed: int64
    | No_Progress

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Dataset _ -> "dataset id (see `smec data list`)"
            | Encoder _ -> "encoder id (see `smec data list`)"
            | Data_Path _ -> "the dataset folder, or a data root holding it (else SMEC_DATA_DIR, the mirror, the user cache)"
            | Parts _ -> "only these parts (corpus, queries; train, test; images, captions)"
            | Per_Class _ -> "image classes: a deterministic class-balanced subset, N per class in every split, or e.g. train=300,test=100"
            | Seed _ -> "seed of the class-balanced subset (default 0)"
            | No_Progress -> "no progress bar"

/// "200" -> every split; "train=300,test=100" -> per split.
let parsePerClass (spec: string) : Map<string, int> =
    let positive (text: string) =
        match Int32.TryParse text with
        | true, n when n > 0 -> n
        | _ -> userError "--per-class: '%s' is not a positive number; expected N or split=N,split=N" text
    if spec.Contains "=" then
        spec.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
        |> Array.map (fun pair ->
            match pair.Split('=') with
            | [| split; n |] -> split, positive n
            | _ -> userError "--per-class: '%s' is not split=N; expected e.g. train=300,test=100" pair)
        |> Map.ofArray
    else
        let n = positive spec
        Map.ofList [ "train", n; "test", n ]

/// The declared names, checked before anything is read or built.
let private requireDeclared (args: ParseResults<EncodeArgs>) =
    let catalog = Smec.Core.Data.Manifests.ManifestCatalog.Default
    let check option what (names: string seq) value =
        declared option what "`smec data list`" (names |> Seq.sort |> List.ofSeq) value |> ignore
    check "--dataset" "dataset" catalog.Datasets.Keys (args.GetResult Dataset)
    check "--encoder" "encoder" catalog.Encoders.Keys (args.GetResult Encoder)
    args.TryGetResult Data_Path |> Option.iter (fun p -> if not (Directory.Exists p) then userError "--data-path: folder %s does not exist; expected the dataset folder or a data root" p)

let run (args: ParseResults<EncodeArgs>) : int =
    requireDeclared args
    let options =
        EncodeOptions(
            DataPath = (args.TryGetResult Data_Path |> Option.toObj),
            ShowProgress = not (args.Contains No_Progress),
            Parts = (args.TryGetResult Parts |> Option.map (fun p -> ResizeArray p :> Collections.Generic.IReadOnlyList<string>) |> Option.toObj),
            PerClass = (args.TryGetResult Per_Class |> Option.map (fun s -> parsePerClass s :> Collections.Generic.IReadOnlyDictionary<string, int>) |> Option.toObj),
            SubsetSeed = args.GetResult(Seed, defaultValue = 0L))
    let clock = Diagnostics.Stopwatch.StartNew()
    let encoded = EmbeddingStore.GetOrBuild(args.GetResult Dataset, args.GetResult Encoder, options)
    printfn "%s / %s  key %s" encoded.DatasetId encoded.EncoderId encoded.Key
    printfn "  folder  %s" encoded.Folder
    for KeyValue (name, matrix) in encoded.Parts do
        printfn "  %-8s %6d x %-4d (%s)" name matrix.Rows matrix.Dim encoded.Origins.[name]
    printfn "  took    %.1f s" clock.Elapsed.TotalSeconds
    0
