/// Finished experiments, one JSON file each under results/cache/<hash>.json, written atomically
/// (temporary file + rename) the moment an experiment finishes: an interrupted run resumes where
/// it stopped. Each file holds the full config, the seed, every measurement, the per-query nDCG@10
/// of retrieval experiments (what paired statistics need), the method's settings, package versions
/// and input checksums. Files are compact JSON (per-query arrays would take a line per number).
module Smec.Experiments.Store.ResultStore

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running

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

/// The checksum a cached result carries: SHA-256 of its compact JSON without the "checksum" field.
let private checksumOf (o: JsonObject) =
    let copy = o.DeepClone().AsObject()
    copy.Remove "checksum" |> ignore
    "sha256:" + Smec.Core.Data.FileChecksums.Sha256OfText(copy.ToJsonString())

let save (resultsDir: string) (result: ExperimentResult) =
    let o = toJson result
    o["checksum"] <- JsonValue.Create(checksumOf o)
    Smec.Core.Storage.AtomicFile.WriteAllText(pathOf resultsDir result.Hash, o.ToJsonString(JsonSerializerOptions(WriteIndented = false)))

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

/// Read a stored result: a file that does not parse is reported with its path (and not reused).
/// A retrieval result stored before per-query scores were kept is not reused either: paired
/// statistics need them, so it is recomputed. `requireChecksum`: refuse a file without one (the
/// cache reads entries from before results carried checksums; a shipped run must carry one).
let private load (requireChecksum: bool) (path: string) (hash: string) : Result<ExperimentResult, string> option =
    if not (File.Exists path) then None
    else
        try
            let o = JsonNode.Parse(File.ReadAllText path).AsObject()
            let stored = o["hash"].GetValue<string>()
            let kind = match o["config"] with :? JsonObject as c when c["kind"] <> null -> c["kind"].GetValue<string>() | _ -> ""
            let perQuery = readPerQuery o["per_query"]
            // Entries written before results carried checksums have none; every new one does.
            let checksum = match o["checksum"] with null -> None | c -> Some(c.GetValue<string>())
            if stored <> hash then Some(Error(sprintf "%s: holds hash %s, expected %s" path stored hash))
            elif requireChecksum && checksum.IsNone then
                Some(Error(sprintf "%s: carries no checksum, so its content cannot be verified; expected a cache entry as `smec runs export` copies it" path))
            elif checksum.IsSome && checksum <> Some(checksumOf o) then
                Some(Error(sprintf "%s: checksum %s does not match its content (corrupt or edited); it will be recomputed" path checksum.Value))
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

/// A cached result (results/cache/<hash>.json).
let tryLoad (resultsDir: string) (hash: string) = load false (pathOf resultsDir hash) hash

/// A stored result from any file, with the cache's checks: the hash it holds, its checksum, its per-query scores.
let tryLoadFile (path: string) (hash: string) = load false path hash

/// A shipped run (paper-results/runs/): the cache's checks, and it must carry a checksum.
let tryLoadShipped (path: string) (hash: string) = load true path hash

// ---- One computation per experiment across processes: a lock file per result key ----

/// Who holds a lock: written into results/cache/<hash>.lock when it is taken.
type LockOwner = { Pid: int; Host: string; StartedUtc: string }

let lockPathOf (resultsDir: string) (hash: string) = Path.Combine(cacheFolder resultsDir, hash + ".lock")

let private readOwner (path: string) =
    try
        match File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries) with
        | [| pid; host; started |] -> Some { Pid = int pid; Host = host; StartedUtc = started }
        | _ -> None
    with _ -> None

let private describeOwner (path: string) (owner: LockOwner) =
    sprintf "process %d on %s (started %s, lock %s)" owner.Pid owner.Host owner.StartedUtc path

/// Whether a process id on this host is running (a zombie, state Z in /proc/PID/stat, is not).
let processAlive (pid: int) = Smec.Core.Runtime.ProcessLiveness.IsAlive pid

/// The lock's process is alive and is the one that took it (a recycled pid started after the lock).
let private ownerAlive (owner: LockOwner) =
    processAlive owner.Pid
    && (try
            let started = Diagnostics.Process.GetProcessById(owner.Pid).StartTime.ToUniversalTime()
            let taken = DateTime.Parse(owner.StartedUtc, null, Globalization.DateTimeStyles.RoundtripKind)
            started <= taken.AddSeconds 2.0
        with _ -> true)

/// A lock is stale when its owner ran on this host and has ended.
let private isStale (owner: LockOwner) = owner.Host = Environment.MachineName && not (ownerAlive owner)

/// Take the lock or return who holds it. A lock whose owner on this host is dead is stale: it is
/// moved aside (one process wins the rename) and taken over.
let rec private tryTake (path: string) : Result<unit, LockOwner option> =
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    try
        use stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read)
        let text = sprintf "%d\n%s\n%s\n" Environment.ProcessId Environment.MachineName (DateTime.UtcNow.ToString "o")
        let bytes = Text.Encoding.UTF8.GetBytes text
        stream.Write(bytes, 0, bytes.Length)
        Ok()
    with :? IOException when File.Exists path ->
        match readOwner path with
        | Some owner when isStale owner ->
            let aside = sprintf "%s.stale.%d" path Environment.ProcessId
            try
                File.Move(path, aside)
                File.Delete aside
            with _ -> ()
            tryTake path
        | owner -> Error owner

/// Run `compute` holding the lock of experiment `hash`: a second process waits (saying for whom),
/// then calls `reuse`, which returns the result the first one stored (Some) or None to compute.
let withLock (resultsDir: string) (hash: string) (progress: string -> unit) (reuse: unit -> 'T option) (compute: unit -> 'T) : 'T =
    let path = lockPathOf resultsDir hash
    let mutable waited = false
    let mutable taken = tryTake path
    while Result.isError taken do
        if not waited then
            match taken with
            | Error(Some owner) -> progress (sprintf "waiting for %s, which is computing this experiment" (describeOwner path owner))
            | _ -> progress (sprintf "waiting for the lock %s" path)
            waited <- true
        Threading.Thread.Sleep 500
        taken <- tryTake path
    let release = EventHandler(fun _ _ -> try File.Delete path with _ -> ())
    // Slurm's scancel sends SIGTERM: .NET then runs ProcessExit (not this finally), which frees the
    // lock, so a cancelled task on another node leaves none behind.
    AppDomain.CurrentDomain.ProcessExit.AddHandler release
    try
        match reuse () with
        | Some result -> result
        | None -> compute ()
    finally
        AppDomain.CurrentDomain.ProcessExit.RemoveHandler release
        try File.Delete path with _ -> ()

/// Take the lock of experiment `hash` without waiting: Some handle (dispose it to release the lock),
/// or None when a live process holds it. How an ensemble takes each member's lock and leaves a member
/// another run computes to that run.
let tryLock (resultsDir: string) (hash: string) : IDisposable option =
    let path = lockPathOf resultsDir hash
    match tryTake path with
    | Error _ -> None
    | Ok() ->
        let release = EventHandler(fun _ _ -> try File.Delete path with _ -> ())
        AppDomain.CurrentDomain.ProcessExit.AddHandler release
        Some
            { new IDisposable with
                member _.Dispose() =
                    AppDomain.CurrentDomain.ProcessExit.RemoveHandler release
                    try File.Delete path with _ -> () }

/// Who computes experiment `hash` now, when a live process holds its lock; None when nobody does
/// (no lock, or one whose owner on this host has ended, which the next `withLock` takes over).
/// How a sweep task sees, without waiting, that another task computes its point.
let lockHolder (resultsDir: string) (hash: string) : string option =
    let path = lockPathOf resultsDir hash
    match readOwner path with
    | Some owner -> if isStale owner then None else Some(describeOwner path owner)
    | None -> if File.Exists path then Some(sprintf "the holder of %s (being written)" path) else None

/// Remove lock files whose owner on this host has ended (a run killed between storing a result and
/// releasing its lock leaves one beside a cached result, which no later run would take over).
let removeDeadLocks (folder: string) =
    if Directory.Exists folder then
        for file in Directory.EnumerateFiles(folder, "*.lock") do
            match readOwner file with
            | Some owner when isStale owner -> (try File.Delete file with _ -> ())
            | _ -> ()

/// Temporary files of atomic writes (".<name>.<pid>.tmp") whose writer on this host is dead: what a
/// killed run leaves behind. Removed before a run so a results folder holds only whole files.
let removeDeadTemporaries (folder: string) =
    if Directory.Exists folder then
        for file in Directory.EnumerateFiles(folder, ".*.tmp") do
            let parts = Path.GetFileName(file).Split('.')
            let writer = parts |> Array.rev |> Array.tryPick (fun p -> match Int32.TryParse p with | true, pid -> Some pid | _ -> None)
            match writer with
            | Some pid when pid <> Environment.ProcessId && not (processAlive pid) -> (try File.Delete file with _ -> ())
            | _ -> ()
