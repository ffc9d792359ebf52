/// Helpers shared by the test files: repository paths and the data mirror.
module Smec.Tests.TestSupport

open System.IO
open Smec.Core.Data

/// The repository root (the folder holding Smec.sln).
let repoRoot =
    match Option.ofObj (RepoPaths.TryFindRoot()) with
    | Some root -> root
    | None -> failwith "tests must run inside the repository (Smec.sln not found above the working directory)"

/// The resolved data mirror; tests that need real data fail loudly without it rather than skip silently.
let dataRoot () =
    match Option.ofObj (DataRoot.TryResolve()) with
    | Some r -> r.Path
    | None ->
        failwithf "no data mirror found (looked in: %s); set SMEC_DATA_DIR"
            (DataRoot.Candidates() |> Seq.map (fun c -> c.Path) |> String.concat ", ")

/// A fresh temporary folder, removed by the caller's `use`.
type TempDir() =
    let path = Path.Combine(Path.GetTempPath(), "smec-test-" + Path.GetRandomFileName())
    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    interface System.IDisposable with
        member _.Dispose() = try Directory.Delete(path, true) with _ -> ()

/// SciFact with all-MiniLM-L6-v2, the tests' main real data, from the data layer: embeddings as
/// EmbeddingStore gives them, judgements as DatasetLoader reads them, and (for tests of commands
/// that take files) the file locations the manifests name. The one place tests find SciFact.
module SciFact =
    open Smec.Core.Data.Manifests

    let [<Literal>] Dataset = "scifact"
    let [<Literal>] Encoder = "all-MiniLM-L6-v2"

    let private stored = lazy (Smec.Experiments.Running.Datasets.loadText Dataset Encoder false)

    let corpus () = (fst (stored.Force())).Corpus
    let queries () = (fst (stored.Force())).Queries

    /// The judgements of a split ("train", "test").
    let qrels (split: string) = (snd (stored.Force())).[split]

    /// The folder of the mirror's precomputed embeddings (corpus.npy, corpus.ids.txt, ...), from its embeddings manifest.
    let embeddingsFolder () =
        let manifest = ManifestCatalog.Default.Embeddings |> Seq.find (fun e -> e.Dataset = Dataset && e.Encoder = Encoder)
        Path.Combine(dataRoot (), manifest.Path)

    /// The qrels file of a split, where the dataset's manifest puts it.
    let qrelsFile (split: string) =
        let manifest = ManifestCatalog.Default.Dataset Dataset
        let file = manifest.Files |> Seq.find (fun f -> f.Role = "qrels" && f.Split = split)
        Path.Combine((DatasetLocator.Locate manifest).Folder, file.Path)
