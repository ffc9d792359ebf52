/// Finished experiments, one JSON file each under results/cache/<hash>.json, written atomically
/// (temporary file + rename) the moment an experiment finishes: an interrupted run resumes where
/// it stopped. Each file holds the full config, the seed, every measurement, the per-query nDCG@10
/// of retrieval experiments (what paired statistics need), the method's settings, package versions
/// and input checksums. Files are compact JSON (per-query arrays would take a line per number).
module Smec.Experiments.Running.ResultStore

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Smec.Experiments.Catalog.Model

/// Per-query scores of a retrieval experiment: the test query ids once, then per measurement name
/// (`ndcg@10@<dims>`) one score per query in that order.
type PerQueryScores =
    { QueryIds: string[]
      Scores: Map<string, float[]> }

module PerQueryScores =
    /// One measurement as query id -> score.
    let tryFind (name: string) (scores: PerQueryScores) =
        scores.Scores.TryFind name |> Option.map (fun values -> Array.zip scores.QueryIds values)

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
      /// Retrieval experiments: per-query nDCG@10 per dims (None for other kinds).
      PerQuery: PerQueryScores option
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

let private perQueryJson (scores: PerQueryScores) =
    let ids = JsonArray()
    for id in scores.QueryIds do ids.Add(JsonValue.Create id)
    let byMeasure = JsonObject()
    for KeyValue(name, values) in scores.Scores do
        let a = JsonArray()
        for v in values do a.Add(JsonValue.Create v)
        byMeasure[name] <- a
    JsonObject(dict [ "query_ids", ids :> JsonNode; "scores", byMeasure ])

/// The stored form; `perQuery` false leaves the per-query arrays out (a report's results.json
/// points to the cache file instead).
let toJsonWith (perQuery: bool) (result: ExperimentResult) : JsonObject =
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
              "per_query",
              (match result.PerQuery with
               | Some scores when perQuery -> perQueryJson scores :> JsonNode
               | Some _ -> JsonValue.Create(sprintf "in %s.json of the results cache" result.Hash)
               | None -> null)
              "settings", stringMap result.Settings
              "notes", notes
              "package_versions", stringMap result.PackageVersions
              "data_checksums", stringMap result.DataChecksums
              "torch_threads", JsonValue.Create result.TorchThreads
              "started_utc", JsonValue.Create(result.StartedUtc.ToString("o"))
              "seconds", JsonValue.Create result.Seconds ]
    )

let toJson (result: ExperimentResult) = toJsonWith true result

let save (resultsDir: string) (result: ExperimentResult) =
    let text = (toJson result).ToJsonString(JsonSerializerOptions(WriteIndented = false))
    Smec.Core.Storage.AtomicFile.WriteAllText(pathOf resultsDir result.Hash, text)

let private readStringMap (node: JsonNode) =
    match node with
    | :? JsonObject as o -> o |> Seq.map (fun kv -> kv.Key, kv.Value.GetValue<string>()) |> Map.ofSeq
    | _ -> Map.empty

let private readPerQuery (node: JsonNode) =
    match node with
    | :? JsonObject as o ->
        let ids = o["query_ids"].AsArray() |> Seq.map (fun n -> n.GetValue<string>()) |> Array.ofSeq
        let scores =
            o["scores"].AsObject()
            |> Seq.map (fun kv ->
                let values = kv.Value.AsArray() |> Seq.map (fun n -> n.GetValue<float>()) |> Array.ofSeq
                if values.Length <> ids.Length then
                    failwithf "per_query.%s has %d scores for %d query ids" kv.Key values.Length ids.Length
                kv.Key, values)
            |> Map.ofSeq
        Some { QueryIds = ids; Scores = scores }
    | _ -> None

/// Read a cached result; a file that does not parse is reported with its path (and not reused).
/// A retrieval result stored before per-query scores were kept is not reused either: paired
/// statistics need them, so it is recomputed.
let tryLoad (resultsDir: string) (hash: string) : Result<ExperimentResult, string> option =
    let path = pathOf resultsDir hash
    if not (File.Exists path) then None
    else
        try
            let o = JsonNode.Parse(File.ReadAllText path).AsObject()
            let stored = o["hash"].GetValue<string>()
            let kind = match o["config"] with :? JsonObject as c when c["kind"] <> null -> c["kind"].GetValue<string>() | _ -> ""
            let perQuery = readPerQuery o["per_query"]
            if stored <> hash then Some(Error(sprintf "%s: holds hash %s, expected %s" path stored hash))
            elif kind = ExperimentKind.name Retrieval && perQuery.IsNone then
                Some(Error(sprintf "%s: stored without per-query scores (an older version); it will be recomputed" path))
            else
                Some(
                    Ok
                        { Hash = stored
                          ConfigHash = o["config_hash"].GetValue<string>()
                          Implementation = o["implementation"].GetValue<string>()
                          ConfigJson = ConfigHash.canonical (o["config"])
                          Measurements = o["measurements"].AsObject() |> Seq.map (fun kv -> kv.Key, kv.Value.GetValue<float>()) |> Map.ofSeq
                          PerQuery = perQuery
                          Settings = readStringMap o["settings"]
                          Notes = o["notes"].AsArray() |> Seq.map (fun n -> n.GetValue<string>()) |> List.ofSeq
                          PackageVersions = readStringMap o["package_versions"]
                          DataChecksums = readStringMap o["data_checksums"]
                          TorchThreads = o["torch_threads"].GetValue<int>()
                          StartedUtc = DateTime.Parse(o["started_utc"].GetValue<string>(), null, Globalization.DateTimeStyles.RoundtripKind)
                          Seconds = o["seconds"].GetValue<float>() }
                )
        with e -> Some(Error(sprintf "%s: unreadable cached result (%s); it will be recomputed" path e.Message))
