/// Before any experiment of a table starts: find every dataset its uncached experiments need
/// (downloading where allowed), so a missing dataset stops the run once, with one message per
/// dataset, instead of failing every experiment on it and writing a report full of FAIL.
module Smec.Experiments.Running.DataPreflight

open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Environment

/// A dataset the table needs and could not get, with the locator's message (where it looked,
/// what it tried, how to get it).
type MissingDataset = { Dataset: string; Message: string }

/// The project datasets (by manifest) that these configs read: the mirror source with an
/// encoder the project runs itself (precomputed encoders read the user's files instead).
let neededDatasets (catalog: ManifestCatalog) (configs: ExperimentConfig list) : DatasetManifest list =
    // Item 5's panels are named per direction; both read one captioned dataset.
    let manifestId (name: string) =
        if ImageDatasets.multimodalDatasets |> List.exists (fun (n, _) -> n = name) then (ImageDatasets.multimodalConfig ()).Dataset else name
    configs
    |> List.filter (fun c -> c.Source = Mirror)
    |> List.choose (fun c ->
        match catalog.Datasets.TryGetValue(manifestId c.Dataset) with
        | true, d when d.Format <> "external" ->
            match c.Encoder with
            | "" -> Some d
            | e when e = ImageDatasets.jointEncoder -> Some d
            | e ->
                match catalog.Encoders.TryGetValue e with
                | true, enc when enc.Kind = "precomputed" -> None
                | _ -> Some d
        | _ -> None)
    |> List.distinctBy (fun d -> d.Id)
    |> List.sortBy (fun d -> d.Id)

/// Resolve each dataset (explicit data root, SMEC_DATA_DIR, mirror, system package, embedded
/// copy, earlier download, download); the ones that cannot be had.
let resolve (dataRoot: string option) (datasets: DatasetManifest list) : MissingDataset list =
    datasets
    |> List.choose (fun d ->
        try
            DatasetLoader.Identity(d, DataLoadOptions(ExplicitPath = Option.toObj dataRoot)) |> ignore
            None
        with
        | :? DataUnavailableException
        | :? DataVerificationException as e ->
            let substitute = if isNull d.Substitute then "" else sprintf "no copy is here, and its substitute '%s' is not either: " d.Substitute
            Some { Dataset = d.Id; Message = substitute + e.Message })

/// The missing datasets of a table's experiments that are not cached yet.
let check (env: RunEnvironment) (spec: TableSpec) : MissingDataset list =
    let pending = Runner.plan env spec |> List.filter (fun p -> not p.Cached) |> List.map (fun p -> p.Config)
    if pending.IsEmpty then []
    else
        match (try Some ManifestCatalog.Default with _ -> None) with
        | None -> []
        | Some catalog -> resolve None (neededDatasets catalog pending)

/// One paragraph per missing dataset.
let describe (item: int) (missing: MissingDataset list) =
    [ yield sprintf "item %d needs %d dataset(s) that are not here; nothing was run and no report was written." item missing.Length
      for m in missing -> sprintf "  dataset '%s': %s" m.Dataset m.Message ]
    |> String.concat "\n"
