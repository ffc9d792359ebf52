/// The embeddings manifest: how a user brings the paper's embeddings (LLM2Vec, OpenAI, ...), which
/// cannot be computed here. A small YAML (or JSON, which YAML reads too) file listing, per encoder
/// and dataset, the corpus and query .npy files, their id lists and the qrels.
///
///   embeddings:
///     - encoder: LLM2Vec-7B            # the model that produced the vectors
///       stands_for: LLM2Vec-7B         # optional: the paper encoder they stand for (default: encoder)
///       dataset: scifact               # BEIR name; item 7 needs quora
///       corpus: scifact/corpus.npy     # float32 (rows x dims), paths relative to this file
///       corpus_ids: scifact/corpus.ids.txt
///       queries: scifact/queries.npy
///       query_ids: scifact/queries.ids.txt
///       qrels_test: scifact/qrels/test.tsv
///       qrels_train: scifact/qrels/train.tsv   # optional: without it the test queries are halved
///       drop_self_matches: false       # optional: default true for quora and arguana (BEIR's rule)
module Smec.Experiments.Catalog.EmbeddingsManifest

open System
open System.IO
open System.Text
open YamlDotNet.Core
open YamlDotNet.RepresentationModel

/// The environment variable that names a manifest when `--embeddings` is not given.
[<Literal>]
let Variable = "SMEC_EMBEDDINGS"

type ManifestEntry =
    { Encoder: string
      StandsFor: string
      Dataset: string
      Corpus: string
      CorpusIds: string
      Queries: string
      QueryIds: string
      QrelsTest: string
      QrelsTrain: string option
      DropSelfMatches: bool
      /// Cheap identity of the files (names, sizes, modification times): part of the experiment
      /// hash, so replacing the files invalidates cached results. Full checksums go in each result.
      Fingerprint: string
      /// Line of the entry in the manifest.
      Line: int }

type EmbeddingsManifest =
    { Path: string
      Entries: ManifestEntry list }

    /// Entries that stand for the given paper encoder on any dataset.
    member this.For(paperEncoder: string) =
        this.Entries |> List.filter (fun e -> String.Equals(e.StandsFor, paperEncoder, StringComparison.OrdinalIgnoreCase))

let private fingerprint (files: string list) =
    let text =
        files
        |> List.map (fun f ->
            let info = FileInfo f
            sprintf "%s|%d|%d" info.Name info.Length (info.LastWriteTimeUtc.Ticks))
        |> String.concat "\n"
    Smec.Core.Data.FileChecksums.Sha256OfText(text, Smec.Core.Data.HashLength.Identity)

/// Read and validate a manifest; errors name the file, the line and the field.
let load (path: string) : EmbeddingsManifest =
    let fullPath = Path.GetFullPath path
    if not (File.Exists fullPath) then failwithf "%s: embeddings manifest not found" fullPath
    let baseDir = Path.GetDirectoryName fullPath
    let stream = Smec.Core.Runtime.YamlInput.LoadFile fullPath
    let fail (node: YamlNode) fmt =
        Printf.kprintf (fun msg -> failwithf "%s:%d: %s" fullPath node.Start.Line msg) fmt
    if stream.Documents.Count = 0 then failwithf "%s: empty manifest, expected a mapping with 'embeddings:'" fullPath
    let root =
        match stream.Documents.[0].RootNode with
        | :? YamlMappingNode as m -> m
        | other -> fail other "expected a mapping with an 'embeddings:' list"
    let entriesNode =
        match root.Children |> Seq.tryFind (fun kv -> (kv.Key :?> YamlScalarNode).Value = "embeddings") with
        | Some kv ->
            match kv.Value with
            | :? YamlSequenceNode as s -> s
            | other -> fail other "'embeddings' must be a list of entries"
        | None -> fail root "no 'embeddings:' list"
    let known =
        set [ "encoder"; "stands_for"; "dataset"; "corpus"; "corpus_ids"; "queries"; "query_ids"; "qrels_test"; "qrels_train"; "drop_self_matches" ]
    let parseEntry (node: YamlNode) =
        let mapping =
            match node with
            | :? YamlMappingNode as m -> m
            | other -> fail other "each entry must be a mapping (encoder, dataset, corpus, ...)"
        let fields =
            mapping.Children
            |> Seq.map (fun kv ->
                let key = (kv.Key :?> YamlScalarNode).Value
                if not (known.Contains key) then
                    fail kv.Key "unknown field '%s' (expected one of %s)" key (String.Join(", ", known))
                match kv.Value with
                | :? YamlScalarNode as s -> key, (s.Value, kv.Value)
                | other -> fail other "field '%s' must be a single value" key)
            |> Map.ofSeq
        let optional key = fields |> Map.tryFind key |> Option.map fst |> Option.filter (String.IsNullOrWhiteSpace >> not)
        let required key =
            match optional key with
            | Some v -> v
            | None -> fail mapping "entry lacks the field '%s'" key
        let file key =
            let relative = required key
            let full = Path.GetFullPath(Path.Combine(baseDir, relative))
            if not (File.Exists full) then fail (snd fields.[key]) "field '%s': file %s does not exist" key full
            full
        let dataset = required "dataset"
        let encoder = required "encoder"
        let dropSelf =
            match optional "drop_self_matches" with
            | None -> List.contains (dataset.ToLowerInvariant()) [ "quora"; "arguana" ]
            | Some v ->
                match Boolean.TryParse v with
                | true, b -> b
                | _ -> fail (snd fields.["drop_self_matches"]) "field 'drop_self_matches' is '%s', expected true or false" v
        let corpus, corpusIds, queries, queryIds, qrelsTest =
            file "corpus", file "corpus_ids", file "queries", file "query_ids", file "qrels_test"
        let qrelsTrain = optional "qrels_train" |> Option.map (fun _ -> file "qrels_train")
        { Encoder = encoder
          StandsFor = defaultArg (optional "stands_for") encoder
          Dataset = dataset
          Corpus = corpus
          CorpusIds = corpusIds
          Queries = queries
          QueryIds = queryIds
          QrelsTest = qrelsTest
          QrelsTrain = qrelsTrain
          DropSelfMatches = dropSelf
          Fingerprint = fingerprint ([ corpus; corpusIds; queries; queryIds; qrelsTest ] @ Option.toList qrelsTrain)
          Line = int mapping.Start.Line }
    let entries = entriesNode.Children |> Seq.map parseEntry |> List.ofSeq
    if entries.IsEmpty then fail entriesNode "the 'embeddings' list is empty"
    { Path = fullPath; Entries = entries }

/// The manifest named by an explicit path, else by $SMEC_EMBEDDINGS, else none.
let tryResolve (explicitPath: string option) : EmbeddingsManifest option =
    match explicitPath with
    | Some p -> Some(load p)
    | None ->
        match Environment.GetEnvironmentVariable Variable with
        | null | "" -> None
        | p -> Some(load p)
