/// Finished experiments, one JSON file each under results/cache/<hash>.json, written atomically
/// (temporary file + rename) the moment an experiment finishes: an interrupted run resumes where
/// it stopped. Each file holds the full config, the seed, every measurement, the method's settings,
/// package versions and input checksums.
module Smec.Experiments.Running.ResultStore

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Smec.Experiments.Catalog.Model

type ExperimentResult =
    { /// The key it is stored under (config + implementation, ConfigHash.resultKey).
      Hash: string
      /// The config's own hash (ConfigHash.hash).
      ConfigHash: string
      /// The implementation that computed it ("" for descriptions).
      Implementation: string
      /// The config as canonical JSON (the catalog holds the typed record).
      ConfigJson: string
      Measurements: Map<string, float>
      /// Options and values the method chose while fitting (ICompressor.Settings).
      Settings: Map<string, string>
      Notes: string list
      PackageVersions: Map<string, string>
      DataChecksums: Map<string, string>
      TorchThreads: int
      StartedUtc: DateTime
      Seconds: float }

let cacheFolder (resultsDir: string) = Path.Combine(resultsDir, "cache")
let pathOf (resultsDir: string) (hash: string) = Path.Combine(cacheFolder resultsDir, hash + ".json")

let private stringMap (map: Map<string, string>) =
    let o = JsonObject()
    for KeyValue(k, v) in map do o[k] <- JsonValue.Create v
    o

let toJson (result: ExperimentResult) : JsonObject =
    let measurements = JsonObject()
    for KeyValue(k, v) in result.Measurements do measurements[k] <- JsonValue.Create v
    let notes = JsonArray()
    for n in result.Notes do notes.Add(JsonValue.Create n)
    JsonObject(
        dict
            [ "hash", JsonValue.Create result.Hash :> JsonNode
              "config_hash", JsonValue.Create result.ConfigHash
              "implementation", JsonValue.Create result.Implementation
              "config", JsonNode.Parse result.ConfigJson
              "measurements", measurements
              "settings", stringMap result.Settings
              "notes", notes
              "package_versions", stringMap result.PackageVersions
              "data_checksums", stringMap result.DataChecksums
              "torch_threads", JsonValue.Create result.TorchThreads
              "started_utc", JsonValue.Create(result.StartedUtc.ToString("o"))
              "seconds", JsonValue.Create result.Seconds ]
    )

let save (resultsDir: string) (result: ExperimentResult) =
    let text = (toJson result).ToJsonString(JsonSerializerOptions(WriteIndented = true))
    Smec.Core.Storage.AtomicFile.WriteAllText(pathOf resultsDir result.Hash, text)

let private readStringMap (node: JsonNode) =
    match node with
    | :? JsonObject as o -> o |> Seq.map (fun kv -> kv.Key, kv.Value.GetValue<string>()) |> Map.ofSeq
    | _ -> Map.empty

/// Read a cached result; a file that does not parse is reported with its path (and not reused).
let tryLoad (resultsDir: string) (hash: string) : Result<ExperimentResult, string> option =
    let path = pathOf resultsDir hash
    if not (File.Exists path) then None
    else
        try
            let o = JsonNode.Parse(File.ReadAllText path).AsObject()
            let stored = o["hash"].GetValue<string>()
            if stored <> hash then Some(Error(sprintf "%s: holds hash %s, expected %s" path stored hash))
            else
                Some(
                    Ok
                        { Hash = stored
                          ConfigHash = o["config_hash"].GetValue<string>()
                          Implementation = o["implementation"].GetValue<string>()
                          ConfigJson = ConfigHash.canonical (o["config"])
                          Measurements = o["measurements"].AsObject() |> Seq.map (fun kv -> kv.Key, kv.Value.GetValue<float>()) |> Map.ofSeq
                          Settings = readStringMap o["settings"]
                          Notes = o["notes"].AsArray() |> Seq.map (fun n -> n.GetValue<string>()) |> List.ofSeq
                          PackageVersions = readStringMap o["package_versions"]
                          DataChecksums = readStringMap o["data_checksums"]
                          TorchThreads = o["torch_threads"].GetValue<int>()
                          StartedUtc = DateTime.Parse(o["started_utc"].GetValue<string>(), null, Globalization.DateTimeStyles.RoundtripKind)
                          Seconds = o["seconds"].GetValue<float>() }
                )
        with e -> Some(Error(sprintf "%s: unreadable cached result (%s); it will be recomputed" path e.Message))
