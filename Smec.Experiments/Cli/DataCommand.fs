/// `smec data list | verify`: what the manifests declare, and whether the local copies are right.
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

type DataArgs =
    | [<SubCommand; CliPrefix(CliPrefix.None)>] List
    | [<CliPrefix(CliPrefix.None)>] Verify of ParseResults<VerifyArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | List -> "list the declared datasets and encoders, and where each dataset was found"
            | Verify _ -> "check the checksums and counts of every local dataset (no downloads)"

let private where (manifest: DatasetManifest) =
    try
        let location = DatasetLocator.Locate(manifest, null, allowDownload = false)
        sprintf "%s (%s)" location.Folder location.Rule
    with :? DataUnavailableException -> "not here"

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
                printfn "OK    %-14s %d checksums, %s  [%s; %.1f s]" m.Id report.ChecksumsVerified report.Summary report.Location.Folder clock.Elapsed.TotalSeconds
                false
            with
            | :? DataUnavailableException
            | :? DataVerificationException as e ->
                printfn "FAIL  %-14s %s" m.Id e.Message
                true)
    printfn "%d of %d datasets verified" (manifests.Length - failures.Length) manifests.Length
    if failures.IsEmpty then 0 else 1

let run (args: ParseResults<DataArgs>) : int =
    match args.GetSubCommand() with
    | List -> list ()
    | Verify v -> verify v
