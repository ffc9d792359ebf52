/// A sweep's folder, results/sweeps/<name>/: the spec as run, one config JSON per point by key
/// (points/<key>.json, what `smec run-experiment KEY` reads), the plan as CSV, Slurm scripts and
/// logs, and the report. Results themselves live in the shared result cache (results/cache/).
module Smec.Experiments.Sweeps.SweepFolder

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Sweeps.SweepPlan
open Smec.Experiments.Store

/// Write a text file atomically (the project's one atomic-write helper).
let writeText (path: string) (text: string) = Smec.Core.Storage.AtomicFile.WriteAllText(path, text)

let sweepsFolder (resultsDir: string) = Path.Combine(resultsDir, "sweeps")
let folderOf (resultsDir: string) (name: string) = Path.Combine(sweepsFolder resultsDir, name)
let pointsFolder (sweepDir: string) = Path.Combine(sweepDir, "points")
let pointFile (sweepDir: string) (key: string) = Path.Combine(pointsFolder sweepDir, key + ".json")

// ---- config JSON, both ways --------------------------------------------------------------------

let private fail (file: string) (field: string) (expected: string) : 'a =
    raise (InvalidDataException(sprintf "%s: field '%s': expected %s" file field expected))

/// The typed config back from ConfigHash.toJson's form (the inverse the point files need).
let configOfJson (file: string) (node: JsonNode) : ExperimentConfig =
    let o = match node with :? JsonObject as o -> o | _ -> fail file "(document)" "a JSON object"
    let get (name: string) = match o[name] with null -> fail file name "a value" | v -> v
    let str (name: string) = try (get name).GetValue<string>() with :? InvalidOperationException -> fail file name "a string"
    if str "schema" <> ConfigHash.Schema then fail file "schema" (sprintf "'%s' (this build's config schema)" ConfigHash.Schema)
    let kind =
        match str "kind" with
        | "retrieval" -> Retrieval
        | "gradient-probe" -> GradientProbe
        | "dimension-importance" -> DimensionImportance
        | "dataset-description" -> DatasetDescription
        | _ -> fail file "kind" "retrieval, gradient-probe, dimension-importance or dataset-description"
    let source =
        match get "source" with
        | :? JsonObject as s -> Manifest(s["manifest"].GetValue<string>())
        | v when v.GetValue<string>() = "mirror" -> Mirror
        | _ -> fail file "source" "\"mirror\" or {\"manifest\": fingerprint}"
    let split =
        let s = get "split"
        let count (name: string) = match s[name] with null -> fail file ("split." + name) "a whole number" | v -> v.GetValue<int>()
        match s["rule"].GetValue<string>() with
        | "given-train-test" -> GivenTrainTest(count "validation")
        | rule when rule.StartsWith "query-halves" -> QueryHalves(count "min_validation")
        | rule when rule.StartsWith "k-fold" -> KFold(count "folds", count "min_validation", (match s["fold"] with null -> None | f -> Some(f.GetValue<int>())))
        | _ -> fail file "split.rule" "given-train-test, query-halves or k-fold"
    let budget =
        match o["budget"] with
        | null -> None
        | b ->
            Some
                { MaxSteps = b["max_steps"].GetValue<int>()
                  BatchSize = b["batch_size"].GetValue<int>()
                  LearningRate = b["learning_rate"].GetValue<float>()
                  Patience = b["patience"].GetValue<int>()
                  ValidateEvery = b["validate_every"].GetValue<int>() }
    { Kind = kind
      Dataset = str "dataset"
      Encoder = str "encoder"
      Source = source
      Split = split
      Method = str "method"
      Options = (get "options").AsObject() |> Seq.map (fun kv -> kv.Key, kv.Value.GetValue<string>()) |> Map.ofSeq
      Dims = (get "dims").AsArray() |> Seq.map (fun d -> d.GetValue<int>()) |> List.ofSeq
      Seed = (get "seed").GetValue<int64>()
      Budget = budget }

/// A point's file: its key, its config (as hashed) and the sweep it belongs to.
let writePoint (sweepDir: string) (sweepName: string) (point: Point) =
    let o = JsonObject()
    o["key"] <- JsonValue.Create point.Key
    o["sweep"] <- JsonValue.Create sweepName
    o["setting"] <- JsonValue.Create point.Setting
    o["config"] <- ConfigHash.toJson point.Config
    writeText (pointFile sweepDir point.Key) (o.ToJsonString(JsonSerializerOptions(WriteIndented = true)))

/// The config of a point file.
let readPoint (file: string) : string * ExperimentConfig =
    let o =
        try JsonNode.Parse(File.ReadAllText file).AsObject()
        with :? JsonException as e -> raise (InvalidDataException(sprintf "%s: not valid JSON (%s)" file e.Message))
    let key = match o["key"] with null -> fail file "key" "the point's key" | k -> k.GetValue<string>()
    let config = match o["config"] with null -> fail file "config" "the experiment's config" | c -> configOfJson file c
    key, config

/// Every point file of every sweep under the results folder that holds this key.
let findPoint (resultsDir: string) (key: string) =
    let root = sweepsFolder resultsDir
    if not (Directory.Exists root) then []
    else
        Directory.EnumerateDirectories root
        |> Seq.map (fun d -> pointFile d key)
        |> Seq.filter File.Exists
        |> List.ofSeq

/// Write the spec as run, the plan's CSV and every point file.
let writePlan (sweepDir: string) (plan: SweepPlan) =
    Directory.CreateDirectory(pointsFolder sweepDir) |> ignore
    for p in plan.Points do
        if not (File.Exists(pointFile sweepDir p.Key)) then writePoint sweepDir plan.Spec.Name p
    let columns = plan.Columns @ [ seedColumn ]
    let quote (s: string) = if s.Contains ',' || s.Contains '"' then "\"" + s.Replace("\"", "\"\"") + "\"" else s
    let lines =
        [ yield String.concat "," ("key" :: columns |> List.map quote)
          for p in plan.Points -> String.concat "," (p.Key :: (columns |> List.map (fun c -> p.Values |> Map.tryFind c |> Option.defaultValue "")) |> List.map quote) ]
    writeText (Path.Combine(sweepDir, "plan.csv")) (String.concat "\n" lines + "\n")
    if File.Exists plan.Spec.File then
        writeText (Path.Combine(sweepDir, "spec.yaml")) (File.ReadAllText plan.Spec.File)
