/// Item 1's measurements: counts, dims and checksum agreement of a dataset, read from the files
/// themselves (no loader logic beyond counting). Mirror data is checked against SHA256SUMS.
module Smec.Experiments.Running.DatasetDescription

open System
open System.IO
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest

/// SMART records (`.I n` starts one); a record counts when it has any content besides its `.I`
/// line (CACM's query.text ends with an empty `.I 0` record).
let smartRecords (path: string) =
    let mutable count = 0
    let mutable open' = false
    let mutable hasContent = false
    for line in File.ReadLines path do
        if line.StartsWith ".I " || line = ".I" then
            if open' && hasContent then count <- count + 1
            open' <- true
            hasContent <- false
        elif line.Trim() <> "" then hasContent <- true
    if open' && hasContent then count <- count + 1
    count

let private nonEmptyLines (path: string) = File.ReadLines path |> Seq.filter (fun l -> l.Trim() <> "") |> Seq.length

/// (query id, doc id) judgements of a qrels-like file whose first field is the query id.
let private judgementLines (path: string) (hasHeader: bool) =
    File.ReadLines path
    |> Seq.filter (fun l -> l.Trim() <> "")
    |> Seq.skip (if hasHeader then 1 else 0)
    |> Seq.map (fun l -> l.Split((null: char[]), StringSplitOptions.RemoveEmptyEntries).[0])
    |> List.ofSeq

/// Files listed in the mirror's SHA256SUMS under a folder whose checksum differs (or are missing).
let checksumMismatches (root: string) (folder: string) =
    let sums = Path.Combine(root, "SHA256SUMS")
    if not (File.Exists sums) then failwithf "%s: not found (the data mirror lists every file's SHA-256 there)" sums
    let prefix = "./" + folder.TrimEnd('/') + "/"
    File.ReadLines sums
    |> Seq.filter (fun l -> l.Trim() <> "")
    |> Seq.map (fun l ->
        let parts = l.Split("  ", 2)
        if parts.Length <> 2 then failwithf "%s: line '%s' is not '<sha256>  <path>'" sums l
        parts.[0], parts.[1])
    |> Seq.filter (fun (_, path) -> path.StartsWith prefix)
    |> Seq.filter (fun (expected, path) ->
        let full = Path.Combine(root, path.Substring 2)
        not (File.Exists full) || Datasets.sha256File full <> expected)
    |> Seq.length

let private embeddingCounts (corpus: string) (corpusIds: string) (queries: string) (queryIds: string) =
    let corpusMatrix = Npy.ReadEmbeddings(corpus, corpusIds)
    let queryMatrix = Npy.ReadEmbeddings(queries, queryIds)
    if corpusMatrix.Dim <> queryMatrix.Dim then
        failwithf "%s has %d dims but %s has %d" corpus corpusMatrix.Dim queries queryMatrix.Dim
    [ "docs", float corpusMatrix.Rows; "queries", float queryMatrix.Rows; "dims", float corpusMatrix.Dim ]

/// Measurements of a description experiment, or why they cannot be taken.
let describe (dataRoot: string option) (manifest: EmbeddingsManifest option) (config: ExperimentConfig) : Result<Map<string, float> * Map<string, string>, string> =
    let withChecksums root folder measures files =
        Ok(Map.ofList (measures @ [ "checksum_mismatches", float (checksumMismatches root folder) ]),
           files |> List.map (fun (f: string) -> Path.GetRelativePath(root, f), Datasets.sha256File f) |> Map.ofList)
    match config.Source, dataRoot with
    | Manifest _, _ ->
        match Datasets.manifestEntry manifest config with
        | None -> Error(sprintf "no embeddings manifest entry for %s x %s" config.Dataset config.Encoder)
        | Some e ->
            let judged = judgementLines e.QrelsTest true @ (e.QrelsTrain |> Option.map (fun p -> judgementLines p true) |> Option.defaultValue [])
            Ok(Map.ofList (embeddingCounts e.Corpus e.CorpusIds e.Queries e.QueryIds
                           @ [ "qrels", float judged.Length; "judged_queries", float (judged |> List.distinct |> List.length) ]),
               Map.empty)
    | Mirror, None -> Error "no data mirror found (set SMEC_DATA_DIR)"
    | Mirror, Some root ->
        let under (parts: string list) = Path.Combine(Array.ofList (root :: parts))
        match config.Dataset, config.Encoder with
        | dataset, "" when Directory.Exists(under [ "beir"; dataset ]) ->
            let qrels = [ under [ "beir"; dataset; "qrels"; "train.tsv" ]; under [ "beir"; dataset; "qrels"; "test.tsv" ] ] |> List.filter File.Exists
            let judged = qrels |> List.collect (fun q -> judgementLines q true)
            let corpus, queries = under [ "beir"; dataset; "corpus.jsonl" ], under [ "beir"; dataset; "queries.jsonl" ]
            withChecksums root ("beir/" + dataset)
                [ "docs", float (nonEmptyLines corpus)
                  "queries", float (nonEmptyLines queries)
                  "qrels", float judged.Length
                  "judged_queries", float (judged |> List.distinct |> List.length) ]
                ([ corpus; queries ] @ qrels)
        | ("cranfield" | "cacm") as dataset, "" ->
            let folder = under [ "classic"; dataset ]
            let docs, queries, qrels =
                if dataset = "cranfield" then "cran.all.1400", "cran.qry", "cranqrel" else "cacm.all", "query.text", "qrels.text"
            let files = [ docs; queries; qrels ] |> List.map (fun f -> Path.Combine(folder, f))
            let judged = judgementLines files.[2] false
            withChecksums root ("classic/" + dataset)
                [ "docs", float (smartRecords files.[0])
                  "queries", float (smartRecords files.[1])
                  "qrels", float judged.Length
                  "judged_queries", float (judged |> List.distinct |> List.length) ]
                files
        | dataset, encoder when Directory.Exists(under [ "embeddings"; dataset; encoder ]) && encoder <> "" ->
            let file name = under [ "embeddings"; dataset; encoder; name ]
            withChecksums root (sprintf "embeddings/%s/%s" dataset encoder)
                (embeddingCounts (file "corpus.npy") (file "corpus.ids.txt") (file "queries.npy") (file "queries.ids.txt"))
                [ file "corpus.npy"; file "queries.npy" ]
        | dataset, encoder ->
            Error(sprintf "%s%s is not in the data mirror at %s" dataset (if encoder = "" then "" else " x " + encoder) root)
