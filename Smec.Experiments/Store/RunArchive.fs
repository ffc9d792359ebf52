/// Shipped runs: finished experiments copied out of the results cache into a folder that travels
/// with the repository (paper-results/runs/<item>-<profile>/<key>.json), and copied back into the
/// cache of another checkout. Each file is a cache entry unchanged, so it carries its own config,
/// seed, per-query scores, package versions, data checksums, thread count and start time: where and
/// when it was computed stays readable. What it is for: the new protocol's item 2 is about 10-12
/// hours of training on 2 cores, more than one sitting; the runs of each sitting are shipped so the
/// next one (or a reader checking a blessed value, as MTEB publishes its results beside its tasks)
/// starts from them instead of from nothing. Importing never overwrites a result the cache holds.
module Smec.Experiments.Store.RunArchive

open System
open System.IO

/// Where the runs of a catalog item under a profile are shipped.
let folderOf (paperResultsDir: string) (item: int) (profile: string) =
    Path.Combine(paperResultsDir, "runs", sprintf "item-%d-%s" item profile)

/// A result key as a file name: 64 lowercase hex digits (ConfigHash.resultKey).
let private isKey (name: string) =
    name.Length = 64 && name |> Seq.forall (fun c -> Char.IsDigit c || (c >= 'a' && c <= 'f'))

/// index.csv beside the shipped files, one row per file (rewritten from the files on every export):
/// what each run is and when it was computed, for a reader browsing the folder. The files are the
/// record; the index is derived from them.
let writeIndex (folder: string) =
    let field (o: Text.Json.Nodes.JsonNode) (name: string) =
        match o with
        | :? Text.Json.Nodes.JsonObject as obj when obj.ContainsKey name && not (isNull obj[name]) ->
            match obj[name] with
            | :? Text.Json.Nodes.JsonValue as v -> v.ToString()
            | other -> other.ToJsonString()
        | _ -> ""
    let rows =
        [ for file in Directory.EnumerateFiles(folder, "*.json") |> Seq.sort do
              let key = Path.GetFileNameWithoutExtension file
              let parsed = try Some(Text.Json.Nodes.JsonNode.Parse(File.ReadAllText file)) with _ -> None
              match parsed with
              | Some o when isKey key && not (isNull o["config"]) ->
                  let config = o["config"]
                  let options =
                      match config["options"] with
                      | :? Text.Json.Nodes.JsonObject as opts -> opts |> Seq.map (fun kv -> sprintf "%s=%s" kv.Key (kv.Value.ToString())) |> String.concat " "
                      | _ -> ""
                  let fold = match config["split"] with null -> "" | split -> field split "fold"
                  let seconds = match Double.TryParse(field o "seconds", Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
                                | true, v -> sprintf "%.1f" v
                                | _ -> ""
                  yield [ key; field config "method"; options; field config "dataset"; field config "encoder"
                          (if fold = "" then "" else string (int fold + 1)); field config "seed"
                          field o "started_utc"; seconds; field o "torch_threads" ]
              | _ -> yield [ Path.GetFileName file; "(not a result: import refuses it)"; ""; ""; ""; ""; ""; ""; ""; "" ] ]
    let header = [ "key"; "method"; "options"; "dataset"; "encoder"; "fold"; "seed"; "started_utc"; "seconds"; "torch_threads" ]
    let quote (s: string) = if s.Contains ',' || s.Contains '"' then "\"" + s.Replace("\"", "\"\"") + "\"" else s
    Smec.Core.Storage.AtomicFile.WriteAllLines(
        Path.Combine(folder, "index.csv"), (header :: rows) |> List.map (List.map quote >> String.concat ","))

/// How many of `keys` have a shipped file in `folder` (0 when there is no such folder).
let shippedCount (folder: string) (keys: string list) =
    if not (Directory.Exists folder) then 0
    else keys |> List.filter (fun key -> File.Exists(Path.Combine(folder, key + ".json"))) |> List.length

type ExportSummary =
    { /// Copied into the folder now.
      Copied: string list
      /// Already in the folder, byte for byte.
      AlreadyShipped: string list
      /// In the folder with other content (a recomputation of the same key): the shipped file is
      /// kept; `--replace` would have to say so, and there is none on purpose.
      Differs: string list
      /// Not in the cache (or unreadable there): nothing to ship yet.
      NotCached: string list }

let private sameBytes (a: string) (b: string) = File.ReadAllBytes a = File.ReadAllBytes b

/// Copy the cached results of `keys` into `folder` (created if needed); a file already there is
/// never replaced.
let export (resultsDir: string) (keys: string list) (folder: string) : ExportSummary =
    Directory.CreateDirectory folder |> ignore
    let outcomes =
        [ for key in List.distinct keys ->
              let target = Path.Combine(folder, key + ".json")
              match ResultStore.tryLoad resultsDir key with
              | Some(Ok _) ->
                  let source = ResultStore.pathOf resultsDir key
                  if not (File.Exists target) then
                      Smec.Core.Storage.AtomicFile.WriteAllBytes(target, File.ReadAllBytes source)
                      "copied", key
                  elif sameBytes source target then "same", key
                  else "differs", key
              | _ -> "missing", key ]
    writeIndex folder
    let pick tag = outcomes |> List.filter (fun (t, _) -> t = tag) |> List.map snd
    { Copied = pick "copied"; AlreadyShipped = pick "same"; Differs = pick "differs"; NotCached = pick "missing" }

type ImportOutcome =
    /// Copied into the cache.
    | Imported
    /// The cache holds the same file.
    | AlreadyCached
    /// The cache holds a readable result of that key with other content (computed here): kept.
    | KeptLocal
    /// The cache held an unreadable file of that key (it would have been recomputed): replaced.
    | ReplacedUnreadable of reason: string
    /// The shipped file is not a readable result of the key its name gives: not imported.
    | Invalid of reason: string

/// Copy every shipped result of `folder` into the cache; returns (key or file name, outcome) per file.
let import (resultsDir: string) (folder: string) : (string * ImportOutcome) list =
    if not (Directory.Exists folder) then
        raise (DirectoryNotFoundException(sprintf "%s: no such folder of shipped runs; expected a folder of <key>.json files (smec runs export writes one)" folder))
    Directory.CreateDirectory(ResultStore.cacheFolder resultsDir) |> ignore
    [ for file in Directory.EnumerateFiles(folder, "*.json") |> Seq.sort ->
          let key = Path.GetFileNameWithoutExtension file
          if not (isKey key) then
              Path.GetFileName file, Invalid(sprintf "%s: the name is not a result key (64 hex digits)" file)
          else
              match ResultStore.tryLoadShipped file key with
              | Some(Error reason) -> key, Invalid reason
              | None -> key, Invalid(sprintf "%s: vanished while importing" file)
              | Some(Ok _) ->
                  let target = ResultStore.pathOf resultsDir key
                  let copy () = Smec.Core.Storage.AtomicFile.WriteAllBytes(target, File.ReadAllBytes file)
                  match ResultStore.tryLoad resultsDir key with
                  | None ->
                      copy ()
                      key, Imported
                  | Some(Error reason) ->
                      copy ()
                      key, ReplacedUnreadable reason
                  | Some(Ok _) -> key, (if sameBytes file target then AlreadyCached else KeptLocal) ]
