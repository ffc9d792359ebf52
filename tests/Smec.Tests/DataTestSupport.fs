/// Helpers for the data-layer tests: fresh manifest copies, temp copies of datasets, a shared MiniLM.
module Smec.Tests.DataTestSupport

open System
open System.IO
open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Core.Encoders
open Smec.Tests.TestSupport

let manifestsFolder = Path.Combine(repoRoot, "data-manifests")

/// A fresh, mutable copy of a dataset manifest (never mutate ManifestCatalog.Default's objects).
let datasetManifest (id: string) =
    ManifestReader.ReadDataset(Path.Combine(manifestsFolder, "datasets", id + ".yaml"))

/// Copy a dataset's declared files into a temporary folder (tests never touch the mirror).
let copyDataset (manifest: DatasetManifest) (target: string) =
    let location = DatasetLocator.Locate(manifest, null, allowDownload = false)
    for file in manifest.Files do
        let destination = Path.Combine(target, file.Path)
        Directory.CreateDirectory(Path.GetDirectoryName destination) |> ignore
        File.Copy(Path.Combine(location.Folder, file.Path), destination)
    location.Folder

/// Run f and return the message of the exception of type 'E it must throw.
let messageOf<'E when 'E :> exn> (f: unit -> unit) : string =
    try
        f ()
        failwithf "expected %s, but nothing was thrown" typeof<'E>.Name
    with
    | :? 'E as e -> e.Message

let expectContains (text: string) (parts: string list) (what: string) =
    for p in parts do
        if not (text.Contains(p: string)) then failwithf "%s: expected the message to contain '%s', got: %s" what p text

/// One MiniLM encoder for every test that needs it (loading the 90 MB model costs a second or two).
let miniLm = lazy (new BertOnnxEncoder(ManifestCatalog.Default.Encoder "all-MiniLM-L6-v2"))
