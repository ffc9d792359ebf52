/// Every file a user brings is read and checked before anything is encoded, trained or written:
/// an embeddings manifest's matrices, ids and qrels; a collection declared in a user's manifests
/// folder (parsed whole: JSON lines, ids, qrels, counts); dims against each encoder's width; the
/// split rule against the queries there are. A defect is one UserInputException line naming the
/// file (and line) and what was expected, so `smec sweep plan/run` and `smec reproduce` stop with
/// exit 2 and write nothing, instead of failing every point while running.
module Smec.Experiments.Verify.UserData

open System
open System.IO
open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Core.Encoders
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest
open Smec.Experiments.Running

let private fail fmt = Printf.ksprintf (fun message -> raise (UserInputException message)) fmt

/// The first line of `file` that holds `token` as a whole field (for messages), or 0.
let private lineOf (file: string) (token: string) =
    File.ReadLines file
    |> Seq.tryFindIndex (fun line -> line.Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries) |> Array.contains token)
    |> Option.map ((+) 1)
    |> Option.defaultValue 0

/// Data errors of the readers (InvalidData, DataVerification) as user errors: their messages name file and line.
let private wrap (read: unit -> 'a) : 'a =
    try read ()
    with
    | :? UserInputException -> reraise ()
    | :? InvalidDataException
    | :? DataVerificationException
    | :? DataUnavailableException
    | :? FormatException as e -> raise (UserInputException(e.Message, e))

/// A qrels file whose queries and documents all have rows.
let private judgements (qrelsFile: string) (queryIds: Collections.Generic.HashSet<string>) (docIds: Collections.Generic.HashSet<string>) =
    let qrels = wrap (fun () -> Qrels.Read qrelsFile)
    for q in qrels.QueryIds |> Seq.sort do
        if not (queryIds.Contains q) then
            fail "%s:%d: query '%s' is not among the queries' ids; expected judgements of queries that have embeddings" qrelsFile (lineOf qrelsFile q) q
        for d in (qrels.ForQuery q).Keys |> Seq.sort do
            if not (docIds.Contains d) then
                fail "%s:%d: document '%s' is not in the corpus; expected judgements of documents the corpus holds" qrelsFile (lineOf qrelsFile d) d
    if qrels.QueryCount = 0 then fail "%s: no judgements; expected lines 'query-id corpus-id score'" qrelsFile
    qrels

/// The split rule holds for these judgements: enough train queries beyond the validation hold-out.
let private splitHolds (where: string) (rule: SplitRule) (train: Qrels option) (test: Qrels) =
    // A k-fold cell's rule is checked on its fold 0: Splits.kFoldFits sizes every fold by the largest.
    let checkedRule = match rule with KFold(k, v, None) -> KFold(k, v, Some 0) | other -> other
    try Splits.split checkedRule train test |> ignore
    with Failure why ->
        let expected =
            match rule with
            | GivenTrainTest n -> sprintf "train qrels judging more than %d queries (%d are held out for validation), or no train qrels (the test queries are then halved)" n n
            | QueryHalves n -> sprintf "enough judged queries to halve into train and test and hold out at least %d for validation" n
            | KFold(k, n, _) ->
                sprintf "at least %d judged queries (train and test qrels together, each query judged in one of them) for %d folds: every fold tests at least one query, and its model trains on the other folds' queries after holding out a fifth of them, at least %d, for validation (a collection declared by a dataset manifest may state fewer split.folds or a smaller split.validation: data-manifests/README.md, Split rule)"
                    (Splits.kFoldLeast k n) k n
        fail "%s: %s (split rule: %s); expected %s" where why (Splits.describe rule) expected

/// One embeddings-manifest entry: matrices and ids agree, query and corpus dims match, the qrels
/// judge known ids, the split rule holds. Returns the embeddings' width.
let embeddingsEntry (manifestPath: string) (rule: SplitRule) (e: ManifestEntry) =
    let where = sprintf "%s:%d (%s x %s)" manifestPath e.Line e.Dataset e.Encoder
    let part matrix idsFile =
        // Read whole (.npy or .safetensors, as a run reads them): ids against rows, every value finite.
        let ids = wrap (fun () -> Npy.ReadIds idsFile)
        let embeddings =
            try wrap (fun () -> PrecomputedEncoder.Read(matrix, idsFile))
            with :? UserInputException as e when e.Message.Contains " ids, but " ->
                fail "%s: %s has %d ids, but %s has another number of rows; expected one id per row" where idsFile ids.Length matrix
        wrap (fun () -> Finite.RequireRows(ReadOnlySpan embeddings.Values, max embeddings.Dim 1, matrix, fun row -> sprintf "id '%s'" embeddings.Ids.[row]))
        Collections.Generic.HashSet<string>(embeddings.Ids, StringComparer.Ordinal), embeddings.Rows, embeddings.Dim
    let docIds, corpusRows, corpusDims = part e.Corpus e.CorpusIds
    let queryIds, _, queryDims = part e.Queries e.QueryIds
    if corpusRows = 0 then fail "%s: %s has 0 rows; expected a corpus of at least one document" where e.Corpus
    if queryDims <> corpusDims then
        fail "%s: %s holds %d-d queries, but %s holds %d-d documents; expected embeddings of one space (same dims)" where e.Queries queryDims e.Corpus corpusDims
    let test = judgements e.QrelsTest queryIds docIds
    let train = e.QrelsTrain |> Option.map (fun f -> judgements f queryIds docIds)
    splitHolds where rule train test
    corpusDims

/// Every entry of a manifest (with the split rule each gets).
let embeddingsManifest (manifest: EmbeddingsManifest) (ruleOf: ManifestEntry -> SplitRule) =
    for e in manifest.Entries do embeddingsEntry manifest.Path (ruleOf e) e |> ignore

/// Whether a dataset is declared outside the repository's data-manifests (a folder of the user's).
let isUsers (catalog: ManifestCatalog) (manifest: DatasetManifest) =
    not (String.IsNullOrEmpty manifest.ManifestFile)
    && not (Path.GetFullPath(manifest.ManifestFile).StartsWith(Path.GetFullPath(catalog.Folder) + string Path.DirectorySeparatorChar))

/// A user's text collection, parsed whole (no download): every line, id, count and qrels line;
/// no empty corpus, no query without text; the split rule against its judged queries.
let collection (manifest: DatasetManifest) (rule: SplitRule) =
    let dataset = wrap (fun () -> DatasetLoader.LoadText(manifest, DataLoadOptions(AllowDownload = false, VerifyChecksums = false)))
    let corpusFile = manifest.FilesWithRole "corpus" |> Seq.map (fun f -> f.Path) |> Seq.tryHead |> Option.defaultValue "corpus"
    if dataset.Corpus.Count = 0 then
        fail "%s (dataset '%s'): %s holds no documents; expected at least one" manifest.ManifestFile manifest.Id corpusFile
    let split name = match dataset.QrelsBySplit.TryGetValue name with | true, q -> Some q | _ -> None
    match split "test", split "all" with
    | Some test, _
    | None, Some test -> splitHolds (sprintf "%s (dataset '%s')" manifest.ManifestFile manifest.Id) rule (split "train") test
    | None, None -> fail "%s (dataset '%s'): no 'test' or 'all' qrels split; expected qrels with split: test" manifest.ManifestFile manifest.Id

/// Dims no wider than the encoder's output: `field i` names the dim as the user wrote it (`dims[1]`).
let dimsFit (field: int -> string) (dims: int list) (encoder: string) (width: int) =
    dims
    |> List.iteri (fun i d ->
        if d > width then
            fail "%s: %d is wider than encoder '%s', which gives %d-d embeddings; expected dims of at most %d" (field i) d encoder width width)
