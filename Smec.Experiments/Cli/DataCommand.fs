/// `smec data list | verify | get | build`: what the manifests declare, whether the local copies
/// are right, fetching a dataset, and building a subset from a user's copy of its source.
module Smec.Experiments.Cli.DataCommand

open Argu
open Smec.Core.Data
open Smec.Core.Data.Manifests

type VerifyArgs =
    | Dataset of id: string
    | Data_Path of path: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Dataset _ -> "only this dataset (default: every dataset marked mirrored)"
            | Data_Path _ -> "the dataset folder, or a data root holding it"

type GetArgs =
    | [<MainCommand; ExactlyOnce>] Dataset_Id of id: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Dataset_Id _ -> "the dataset to fetch (downloaded into the user cache and verified, unless it is already here)"

type BuildArgs =
    | [<MainCommand; ExactlyOnce>] Dataset_Id of id: string
    | [<Mandatory; Unique>] From of dir: string
    | [<Unique>] To of root: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Dataset_Id _ -> "the dataset to build (one whose manifest has a build section: flickr8k-1k)"
            | From _ -> "your copy of the full source (Flickr8k: captions.txt or Flickr8k.token.txt, and the images)"
            | To _ -> "the data root to build into (default: $SMEC_DATA_DIR, else the user cache)"

type DataArgs =
    | [<SubCommand; CliPrefix(CliPrefix.None)>] List
    | [<CliPrefix(CliPrefix.None)>] Verify of ParseResults<VerifyArgs>
    | [<CliPrefix(CliPrefix.None)>] Get of ParseResults<GetArgs>
    | [<CliPrefix(CliPrefix.None)>] Build of ParseResults<BuildArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | List -> "list the declared datasets and encoders, and where each dataset was found"
            | Verify _ -> "check the counts of every local dataset and show its data identity (no downloads)"
            | Get _ -> "find or download one dataset, verify it (published checksum, counts) and say where it is"
            | Build _ -> "build a subset from your copy of its source (`smec data build flickr8k-1k --from DIR`)"

let private where (manifest: DatasetManifest) =
    try
        let location = DatasetLocator.Locate(manifest, null, allowDownload = false)
        sprintf "%s (%s)" location.Folder location.Rule
    with :? DataUnavailableException -> "not here"

/// How a downloaded copy was verified at download time (its source identity), when it was downloaded.
let private printSource (folder: string) =
    let file = System.IO.Path.Combine(folder, UpstreamDownloader.SourceFile)
    if System.IO.File.Exists file then
        for line in System.IO.File.ReadAllLines file do printfn "        source: %s" line

let private list () =
    let catalog = ManifestCatalog.Default
    printfn "manifests: %s" catalog.Folder
    printfn "datasets:"
    for m in catalog.Datasets.Values |> Seq.sortBy (fun m -> not m.Mirrored, m.Id) do
        printfn "  %-18s %-20s %-15s %s" m.Id m.Kind m.Format (if m.Mirrored then where m else "not mirrored: " + (m.Source.Homepage |> Option.ofObj |> Option.defaultValue "see manifest"))
    printfn "encoders:"
    for m in catalog.Encoders.Values |> Seq.sortBy (fun m -> m.Kind = "precomputed", m.Id) do
        printfn "  %-24s %-14s %-10s %5d-d" m.Id m.Kind m.Modality m.Dim
    0

let private verify (args: ParseResults<VerifyArgs>) =
    let catalog = ManifestCatalog.Default
    let manifests =
        match args.TryGetResult Dataset with
        | Some id ->
            Smec.Experiments.Cli.UserErrors.declared "--dataset" "dataset" "`smec data list`" (catalog.Datasets.Keys |> Seq.sort |> List.ofSeq) id |> ignore
            [ catalog.Dataset id ]
        | None -> catalog.Datasets.Values |> Seq.filter (fun m -> m.Mirrored) |> Seq.sortBy (fun m -> m.Id) |> List.ofSeq
    let options = DataLoadOptions(ExplicitPath = (args.TryGetResult Data_Path |> Option.toObj), AllowDownload = false)
    let failures =
        manifests
        |> List.filter (fun m ->
            let clock = System.Diagnostics.Stopwatch.StartNew()
            try
                let report = DatasetLoader.Verify(m, options)
                printfn "OK    %-14s %s; %s  [%s (%s); %.1f s]" m.Id (report.Identity.Describe()) report.Summary report.Location.Folder report.Location.Rule clock.Elapsed.TotalSeconds
                printSource report.Location.Folder
                false
            with
            | :? DataUnavailableException
            | :? DataVerificationException as e ->
                printfn "FAIL  %-14s %s" m.Id e.Message
                true)
    printfn "%d of %d datasets verified" (manifests.Length - failures.Length) manifests.Length
    if failures.IsEmpty then 0 else 1

let private get (args: ParseResults<GetArgs>) =
    let m = ManifestCatalog.Default.Dataset(args.GetResult GetArgs.Dataset_Id)
    try
        let report = DatasetLoader.Verify(m, DataLoadOptions())
        printfn "OK    %s: %s; %s  [%s (%s)]" m.Id (report.Identity.Describe()) report.Summary report.Location.Folder report.Location.Rule
        printSource report.Location.Folder
        0
    with
    | :? DataUnavailableException
    | :? DataVerificationException as e ->
        eprintfn "error: %s" e.Message
        1

let private build (args: ParseResults<BuildArgs>) =
    let m = ManifestCatalog.Default.Dataset(args.GetResult BuildArgs.Dataset_Id)
    let root =
        match args.TryGetResult To, System.Environment.GetEnvironmentVariable DataRoot.Variable with
        | Some root, _ -> root
        | None, env when not (System.String.IsNullOrWhiteSpace env) -> env
        | None, _ -> DatasetLocator.DownloadRoot()
    try
        let struct (folder, identity) = Smec.Core.Data.Images.SubsetBuilder.Build(m, args.GetResult From, root)
        printfn "built %s in %s: %s" m.Id folder (identity.Describe())
        if not identity.IsReference then
            printfn "Its numbers are keyed by this identity; the mirror's blessed values do not apply to it (see the manifest's build rule)."
        0
    with
    | :? DataUnavailableException
    | :? DataVerificationException as e ->
        eprintfn "error: %s" e.Message
        1

let run (args: ParseResults<DataArgs>) : int =
    match args.GetSubCommand() with
    | List -> list ()
    | Verify v -> verify v
    | Get g -> get g
    | Build b -> build b
