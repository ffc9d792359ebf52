/// What a run needs besides the catalog: where results go, where data is, and the registries that
/// turn names into implementations.
module Smec.Experiments.Running.Environment

open System.IO
open Smec.Core.Data
open Smec.Experiments.Catalog.EmbeddingsManifest
open Smec.Experiments.Methods

type RunEnvironment =
    { /// results/ (cache/ and one folder per item).
      ResultsDir: string
      /// paper-results/ (published.csv, blessed/).
      PaperResultsDir: string
      DataRoot: string option
      Manifest: EmbeddingsManifest option
      Methods: MethodRegistry.MethodRegistry
      Probes: Probes.ProbeRegistry
      Datasets: Datasets.DatasetProvider list
      /// One line of progress (the CLI prints it; tests collect it).
      Progress: string -> unit }

/// The environment of the `smec` command inside a checkout.
let standard (repoRoot: string) (manifest: EmbeddingsManifest option) (progress: string -> unit) =
    let dataRoot = DataRoot.TryResolve() |> Option.ofObj |> Option.map (fun r -> r.Path)
    { ResultsDir = Path.Combine(repoRoot, "results")
      PaperResultsDir = Path.Combine(repoRoot, "paper-results")
      DataRoot = dataRoot
      Manifest = manifest
      Methods = MethodRegistry.standard
      Probes = ProbeRunners.standard
      Datasets =
        [ Datasets.manifestProvider manifest
          ImageDatasets.imageProvider ()
          ImageDatasets.multimodalProvider ()
          Datasets.encoderStore () ]
      Progress = progress }
