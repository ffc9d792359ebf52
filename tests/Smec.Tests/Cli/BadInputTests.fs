/// The bad-input suite: each case is the arguments, the input files it creates, the exit code, a
/// fragment of the one-line error, and the check that nothing was written (the case folder holds
/// exactly the inputs afterwards; outputs point into it or at a folder nobody can write, /proc).
/// Every case fails before any training or encoding, so each takes about a second.
module Smec.Tests.Cli.BadInputTests

open System
open System.IO
open Expecto
open Smec.Core.Storage
open Smec.Tests.TestSupport
open Smec.Tests.Cli.CliProcess

type Case =
    { Name: string
      /// Create the inputs in the case folder.
      Setup: string -> unit
      /// The arguments, given the case folder.
      Args: string -> string list
      Env: string -> (string * string) list
      Code: int
      Fragment: string -> string
      /// The fragment is looked for on stdout (a success such as --help), not in an error line.
      OnStdout: bool }

// ---- inputs ----------------------------------------------------------------------------------

let write (dir: string) (name: string) (text: string) =
    let path = Path.Combine(dir, name)
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    File.WriteAllText(path, text)

/// A .npy of the given rows and its ids file (name.npy, name.ids.txt).
let matrix (dir: string) (name: string) (ids: string list) (rows: float32 list list) =
    let cols = match rows with r :: _ -> r.Length | [] -> 4
    let values = rows |> List.concat |> Array.ofList
    Npy.WriteFloat32(Path.Combine(dir, name + ".npy"), ReadOnlySpan values, rows.Length, cols)
    write dir (name + ".ids.txt") (String.Join("\n", ids) + "\n")

let rowsOf (n: int) (dim: int) = [ for i in 0 .. n - 1 -> [ for j in 0 .. dim - 1 -> float32 ((i * 7 + j * 3) % 11) / 11.0f + 0.1f ] ]
let idsOf (prefix: string) (n: int) = [ for i in 1 .. n -> sprintf "%s%d" prefix i ]

/// Queries q1..q3 and docs d1..d5, 4-d, the run and qrels of a small valid search.
let goodSearchInputs (dir: string) =
    matrix dir "queries" (idsOf "q" 3) (rowsOf 3 4)
    matrix dir "docs" (idsOf "d" 5) (rowsOf 5 4)

let searchArgs (dir: string) =
    [ "search"; "--queries"; Path.Combine(dir, "queries.npy"); "--query-ids"; Path.Combine(dir, "queries.ids.txt")
      "--docs"; Path.Combine(dir, "docs.npy"); "--doc-ids"; Path.Combine(dir, "docs.ids.txt"); "--out"; Path.Combine(dir, "out", "run.trec") ]

let evalArgs (dir: string) = [ "eval"; "--qrels"; Path.Combine(dir, "qrels.txt"); "--run"; Path.Combine(dir, "run.trec") ]
let goodRun = "q1 Q0 d1 1 0.9 t\nq1 Q0 d2 2 0.5 t\n"
let goodQrels = "q1 0 d1 1\nq1 0 d3 0\n"

/// A training folder: corpus and queries (embeddings) and qrels/train.tsv.
let trainInputs (corpusDim: int) (queryDim: int) (dir: string) =
    matrix dir "emb/corpus" (idsOf "d" 6) (rowsOf 6 corpusDim)
    matrix dir "emb/queries" (idsOf "q" 3) (rowsOf 3 queryDim)
    write dir "qrels/train.tsv" "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n"

let trainArgs (dir: string) (extra: string list) =
    [ "train"; "--dataset-embeddings"; Path.Combine(dir, "emb"); "--qrels"; Path.Combine(dir, "qrels"); "--quiet" ] @ extra

/// An embeddings manifest over files in the case folder.
let manifest (dir: string) (encoder: string) (standsFor: string) =
    write dir "manifest.yaml"
        (sprintf "embeddings:\n  - encoder: %s\n    stands_for: %s\n    dataset: scifact\n    corpus: docs.npy\n    corpus_ids: docs.ids.txt\n    queries: queries.npy\n    query_ids: queries.ids.txt\n    qrels_test: qrels.txt\n" encoder standsFor)
    write dir "qrels.txt" "q1 0 d1 1\n"

let reproduceArgs (dir: string) (extra: string list) = [ "reproduce"; "--results"; Path.Combine(dir, "results") ] @ extra

let none (_: string) = ()
let noEnv (_: string) : (string * string) list = []

let case name setup args code fragment =
    { Name = name; Setup = setup; Args = args; Env = noEnv; Code = code; Fragment = (fun _ -> fragment); OnStdout = false }

/// A manifests folder whose one dataset manifest is broken YAML.
let brokenManifestsFolder (dir: string) =
    write (Path.Combine(dir, "manifests")) "datasets/broken.yaml" "id: broken\nkind: [unclosed\n"

// ---- the cases -------------------------------------------------------------------------------

let cases : Case array =
    [| // eval
      case "eval: --qrels given a folder" (fun d -> Directory.CreateDirectory(Path.Combine(d, "qdir")) |> ignore; write d "run.trec" goodRun)
          (fun d -> [ "eval"; "--qrels"; Path.Combine(d, "qdir"); "--run"; Path.Combine(d, "run.trec") ]) 2 "--qrels: "
      case "eval: --run does not exist" (fun d -> write d "qrels.txt" goodQrels) evalArgs 2 "does not exist"
      case "eval: empty run" (fun d -> write d "qrels.txt" goodQrels; write d "run.trec" "") evalArgs 2 "0 queries evaluated"
      case "eval: empty qrels" (fun d -> write d "qrels.txt" ""; write d "run.trec" goodRun) evalArgs 2 "0 queries evaluated"
      case "eval: no query of the run is judged" (fun d -> write d "qrels.txt" "q9 0 d1 1\n"; write d "run.trec" goodRun) evalArgs 2 "0 queries evaluated"
      case "eval: NaN score" (fun d -> write d "qrels.txt" goodQrels; write d "run.trec" "q1 Q0 d1 1 0.9 t\nq1 Q0 d2 2 NaN t\n") evalArgs 2 "run.trec:2: score 'NaN' is not finite"
      case "eval: infinite score" (fun d -> write d "qrels.txt" goodQrels; write d "run.trec" "q1 Q0 d1 1 1e999 t\n") evalArgs 2 "run.trec:1: score '1e999' is not finite"
      case "eval: conflicting qrels lines" (fun d -> write d "qrels.txt" "q1 0 d1 1\nq1 0 d2 0\nq1 0 d1 2\n"; write d "run.trec" goodRun) evalArgs 2 "qrels.txt:3: query 'q1' document 'd1' judged 2, but line 1 judged it 1"
      case "eval: run line with 5 fields" (fun d -> write d "qrels.txt" goodQrels; write d "run.trec" "q1 Q0 d1 1 0.9\n") evalArgs 2 "run.trec:1: expected 6 fields"
      case "eval: document twice in a run" (fun d -> write d "qrels.txt" goodQrels; write d "run.trec" "q1 Q0 d1 1 0.9 t\nq1 Q0 d1 2 0.5 t\n") evalArgs 2 "appears twice"
      case "eval: relevance not an integer" (fun d -> write d "qrels.txt" "q1 0 d1 high\n"; write d "run.trec" goodRun) evalArgs 2 "qrels.txt:1: relevance 'high'"
      case "eval: --qrels missing its value" none (fun _ -> [ "eval"; "--qrels" ]) 2 "--qrels"
      // search
      case "search: NaN in a document row" (fun d -> goodSearchInputs d; matrix d "docs" (idsOf "d" 3) [ [ 1f; 0f; 0f; 0f ]; [ nanf; 0f; 0f; 0f ]; [ 0f; 1f; 0f; 0f ] ])
          searchArgs 2 "docs.npy: row 1 (id 'd2') holds NaN"
      case "search: infinity in a query row" (fun d -> goodSearchInputs d; matrix d "queries" [ "q1" ] [ [ 1f; infinityf; 0f; 0f ] ]) searchArgs 2 "queries.npy: row 0 (id 'q1') holds"
      case "search: duplicate document ids" (fun d -> goodSearchInputs d; write d "docs.ids.txt" "d1\nd2\nd1\nd4\nd5\n") searchArgs 2 "docs.ids.txt:3: id 'd1' repeats line 1"
      case "search: document id with a space" (fun d -> goodSearchInputs d; write d "docs.ids.txt" "d1\nd 2\nd3\nd4\nd5\n") searchArgs 2 "docs.ids.txt:2: id 'd 2' contains whitespace"
      case "search: empty line inside the ids" (fun d -> goodSearchInputs d; write d "docs.ids.txt" "d1\n\nd3\nd4\nd5\n") searchArgs 2 "docs.ids.txt:2: empty line"
      case "search: corpus with 0 rows" (fun d -> goodSearchInputs d; matrix d "docs" [] []) searchArgs 2 "0 documents"
      case "search: fewer ids than rows" (fun d -> goodSearchInputs d; write d "docs.ids.txt" "d1\nd2\n") searchArgs 2 "docs.ids.txt: 2 ids, but"
      case "search: query dims differ from document dims" (fun d -> goodSearchInputs d; matrix d "queries" (idsOf "q" 3) (rowsOf 3 6)) searchArgs 2 "6-d queries"
      case "search: --out in a folder nobody can write" goodSearchInputs
          (fun d -> (searchArgs d |> List.take 9) @ [ "--out"; "/proc/smec-no-such/run.trec" ]) 2 "--out: folder /proc/smec-no-such is not writable"
      case "search: --out names a folder" (fun d -> goodSearchInputs d; Directory.CreateDirectory(Path.Combine(d, "out", "run.trec")) |> ignore) searchArgs 2 "is a folder; expected a file path"
      case "search: --k 0" goodSearchInputs (fun d -> searchArgs d @ [ "--k"; "0" ]) 2 "--k: 0 is not positive"
      case "search: a text file given as .npy" (fun d -> goodSearchInputs d; write d "docs.npy" "hello") searchArgs 2 "docs.npy: not a .npy file"
      case "search: truncated .npy" (fun d -> goodSearchInputs d; File.WriteAllBytes(Path.Combine(d, "docs.npy"), File.ReadAllBytes(Path.Combine(d, "docs.npy")) |> Array.take 40))
          searchArgs 2 "docs.npy: "
      // encode and data
      case "encode: misspelt dataset" none (fun _ -> [ "encode"; "--dataset"; "nosuch"; "--encoder"; "all-MiniLM-L6-v2" ]) 2 "--dataset: unknown dataset 'nosuch'"
      case "encode: misspelt encoder" none (fun _ -> [ "encode"; "--dataset"; "scifact"; "--encoder"; "nosuch" ]) 2 "--encoder: unknown encoder 'nosuch'; expected all-MiniLM-L6-v2"
      case "encode: close dataset name is suggested" none (fun _ -> [ "encode"; "--dataset"; "scifakt"; "--encoder"; "all-MiniLM-L6-v2" ]) 2 "expected e.g. scifact"
      case "encode: --per-class not a number" none (fun _ -> [ "encode"; "--dataset"; "cifar10"; "--encoder"; "resnet18"; "--per-class"; "many" ]) 2 "--per-class: 'many'"
      case "encode: --data-path does not exist" none (fun d -> [ "encode"; "--dataset"; "scifact"; "--encoder"; "all-MiniLM-L6-v2"; "--data-path"; Path.Combine(d, "nope") ]) 2 "--data-path: folder"
      case "data verify: misspelt dataset" none (fun _ -> [ "data"; "verify"; "--dataset"; "nosuch" ]) 2 "--dataset: unknown dataset 'nosuch'"
      // train (all fail before any data is trained on)
      case "train: --ladder abc" none (fun d -> trainArgs d [ "--ladder"; "abc" ]) 2 "--ladder: 'abc' is not a positive integer"
      case "train: --ladder that grows" none (fun d -> trainArgs d [ "--ladder"; "4,8" ]) 2 "does not go from large to small"
      case "train: --profile banana" none (fun d -> trainArgs d [ "--profile"; "banana" ]) 2 "--profile: unknown profile 'banana'; expected local or paper"
      case "train: --optimizer sgd" none (fun d -> trainArgs d [ "--optimizer"; "sgd" ]) 2 "--optimizer: option 'optimizer' is 'sgd'; expected one of adam-w, adam"
      case "train: --dataset-embeddings missing" none (fun d -> trainArgs d []) 2 "--dataset-embeddings: folder"
      case "train: --out in a folder nobody can write" (trainInputs 4 4) (fun d -> trainArgs d [ "--ladder"; "4,2"; "--out"; "/proc/smec-no-such/model" ]) 2 "--out: folder /proc/smec-no-such is not writable"
      case "train: --out folder holds other files" (fun d -> trainInputs 4 4 d; write d "mine/notes.txt" "keep")
          (fun d -> trainArgs d [ "--ladder"; "4,2"; "--out"; Path.Combine(d, "mine") ]) 2 "holds 'notes.txt'"
      case "train: ladder does not start at the embeddings' dims" (trainInputs 4 4) (fun d -> trainArgs d [ "--ladder"; "8,2" ]) 2 "--ladder: starts at 8 dims"
      case "train: query dims differ from corpus dims" (trainInputs 4 6) (fun d -> trainArgs d [ "--ladder"; "4,2" ]) 2 "6-d queries, but corpus.npy holds 4-d"
      case "train: NaN in the corpus" (fun d -> trainInputs 4 4 d; matrix d "emb/corpus" (idsOf "d" 2) [ [ 1f; 0f; 0f; 0f ]; [ 0f; nanf; 0f; 0f ] ])
          (fun d -> trainArgs d [ "--ladder"; "4,2" ]) 2 "corpus.npy: row 1 (id 'd2') holds NaN"
      case "train: duplicate query ids" (fun d -> trainInputs 4 4 d; write d "emb/queries.ids.txt" "q1\nq2\nq2\n") (fun d -> trainArgs d [ "--ladder"; "4,2" ]) 2 "queries.ids.txt:3: id 'q2' repeats line 2"
      case "train: --checkpoint in a folder nobody can write" (trainInputs 4 4) (fun d -> trainArgs d [ "--ladder"; "4,2"; "--checkpoint"; "/proc/smec-no-such/ckpt" ]) 2 "--checkpoint: folder"
      // compress
      case "compress: --role banana" none (fun d -> [ "compress"; "--model"; d; "--in"; "x.npy"; "--dim"; "2"; "--out"; Path.Combine(d, "o.npy"); "--role"; "banana" ]) 2 "--role: unknown role 'banana'; expected query or document"
      case "compress: --model does not exist" none (fun d -> [ "compress"; "--model"; Path.Combine(d, "nope"); "--in"; "x.npy"; "--dim"; "2"; "--out"; Path.Combine(d, "o.npy") ]) 2 "--model: folder"
      case "compress: --in is a folder" (fun d -> Directory.CreateDirectory(Path.Combine(d, "model")) |> ignore)
          (fun d -> [ "compress"; "--model"; Path.Combine(d, "model"); "--in"; d; "--dim"; "2"; "--out"; Path.Combine(d, "o.npy") ]) 2 "--in: "
      case "compress: --out in a folder nobody can write" (fun d -> Directory.CreateDirectory(Path.Combine(d, "model")) |> ignore; goodSearchInputs d)
          (fun d -> [ "compress"; "--model"; Path.Combine(d, "model"); "--in"; Path.Combine(d, "docs.npy"); "--dim"; "2"; "--out"; "/proc/smec-no-such/o.npy" ]) 2 "--out: folder /proc/smec-no-such is not writable"
      case "compress: a weights file changed after saving" (fun d ->
              write d "model/config.json" "{}"
              write d "model/weights.bin" "original weights"
              ModelSeal.Write(Path.Combine(d, "model"), readOnlyDict [ "identity", "test" ], readOnlyDict [ "k", "v" ])
              let weights = Path.Combine(d, "model", "weights.bin")
              let bytes = File.ReadAllBytes weights
              bytes.[3] <- bytes.[3] ^^^ 1uy // one bit flipped
              File.WriteAllBytes(weights, bytes)
              goodSearchInputs d)
          (fun d -> [ "compress"; "--model"; Path.Combine(d, "model"); "--in"; Path.Combine(d, "docs.npy"); "--dim"; "2"; "--out"; Path.Combine(d, "o.npy") ]) 2 "weights.bin: checksum"
      // reproduce, embeddings manifests and the data manifests
      case "reproduce: --table 12" none (fun d -> reproduceArgs d [ "--table"; "12" ]) 2 "--table: unknown catalog item '12'; expected 1, 2"
      case "reproduce: neither --table nor --all" none (fun d -> reproduceArgs d []) 2 "--table: not given"
      case "reproduce: --profile banana" none (fun d -> reproduceArgs d [ "--table"; "2"; "--profile"; "banana" ]) 2 "--profile: unknown profile 'banana'"
      case "reproduce: --seeds 0" none (fun d -> reproduceArgs d [ "--table"; "2"; "--seeds"; "0" ]) 2 "--seeds: 0 is not positive"
      case "reproduce: --jobs 0" none (fun d -> reproduceArgs d [ "--table"; "2"; "--jobs"; "0" ]) 2 "--jobs: 0; expected a number of worker processes >= 1"
      case "reproduce: results folder nobody can write" none (fun _ -> [ "reproduce"; "--table"; "2"; "--results"; "/proc/smec-no-such/results" ]) 2 "--results: folder /proc/smec-no-such/results is not writable"
      case "embeddings manifest: file does not exist" none (fun d -> reproduceArgs d [ "--table"; "6"; "--profile"; "paper"; "--embeddings"; Path.Combine(d, "nope.yaml") ]) 2 "embeddings manifest not found"
      case "embeddings manifest: not YAML" (fun d -> write d "manifest.yaml" "embeddings: [unclosed\n")
          (fun d -> reproduceArgs d [ "--table"; "6"; "--profile"; "paper"; "--embeddings"; Path.Combine(d, "manifest.yaml") ]) 2 "manifest.yaml:"
      case "embeddings manifest: entry without a dataset" (fun d -> goodSearchInputs d; write d "manifest.yaml" "embeddings:\n  - encoder: e\n    corpus: docs.npy\n")
          (fun d -> reproduceArgs d [ "--table"; "6"; "--profile"; "paper"; "--embeddings"; Path.Combine(d, "manifest.yaml") ]) 2 "lacks the field 'dataset'"
      case "embeddings manifest: ids file shorter than its matrix" (fun d -> goodSearchInputs d; manifest d "my-llm" "llm2vec-7b"; write d "docs.ids.txt" "d1\nd2\n")
          (fun d -> reproduceArgs d [ "--table"; "6"; "--profile"; "paper"; "--embeddings"; Path.Combine(d, "manifest.yaml") ]) 2 "docs.ids.txt has 2 ids, but"
      case "embeddings manifest: query dims differ from corpus dims" (fun d -> goodSearchInputs d; manifest d "my-llm" "llm2vec-7b"; matrix d "queries" (idsOf "q" 3) (rowsOf 3 6))
          (fun d -> reproduceArgs d [ "--table"; "6"; "--profile"; "paper"; "--embeddings"; Path.Combine(d, "manifest.yaml") ]) 2 "holds 6-d queries"
      { case "data manifests: a broken dataset manifest" brokenManifestsFolder (fun _ -> [ "data"; "list" ]) 2 "broken.yaml" with
          Env = fun d -> [ "SMEC_MANIFESTS_DIR", Path.Combine(d, "manifests") ] }
      case "methods: misspelt method" none (fun _ -> [ "methods"; "nosuch" ]) 2 "unknown method 'nosuch'"
      case "images: an item it does not run" none (fun _ -> [ "images"; "--item"; "3" ]) 2 "--item 3"
      case "unknown command" none (fun _ -> [ "nosuch" ]) 2 "error: "
      case "eval without --run" (fun d -> write d "qrels.txt" goodQrels) (fun d -> [ "eval"; "--qrels"; Path.Combine(d, "qrels.txt") ]) 2 "--run" |]

type Outcome = { Args: string list; Result: Finished; Before: string list; After: string list }

/// Run one case in a fresh folder: its inputs, the command, and the folder's files before and after.
let private execute (c: Case) =
    use dir = new TempDir()
    c.Setup dir.Path
    let before = filesUnder dir.Path
    let result = runWith (c.Env dir.Path) 120 (c.Args dir.Path)
    { Args = c.Args dir.Path; Result = result; Before = before; After = filesUnder dir.Path }, c.Fragment dir.Path

/// Every case runs once, two child processes at a time (the test runner itself is sequential, and
/// each child spends most of its second starting .NET on one core).
let runAll (cases: Case array) =
    lazy
        (let results = Array.zeroCreate cases.Length
         Threading.Tasks.Parallel.For(0, cases.Length, Threading.Tasks.ParallelOptions(MaxDegreeOfParallelism = 2),
                                      fun i -> results.[i] <- execute cases.[i]) |> ignore
         results)

/// The exit code, the one-line message (or the stdout of a success), no stack trace, nothing written.
let check (cases: Case array) (outcomes: Lazy<(Outcome * string) array>) (index: int) =
    let c = cases.[index]
    let outcome, fragment = outcomes.Force().[index]
    let result = outcome.Result
    let context = sprintf "smec %s\nstderr: %s\nstdout: %s" (String.Join(" ", outcome.Args)) result.Err result.Out
    Expect.equal result.Code c.Code (sprintf "exit code; %s" context)
    if c.OnStdout then Expect.stringContains result.Out fragment (sprintf "output; %s" context)
    else
        Expect.stringContains result.Err fragment (sprintf "message; %s" context)
        Expect.stringContains result.Err "error: " "one error line"
    Expect.isFalse (result.Err.Contains "   at ") (sprintf "no stack trace without --verbose; %s" context)
    Expect.isFalse (result.Err.Contains "Unhandled exception") context
    Expect.isFalse (result.Err.Contains "Exception") (sprintf "no exception class name; %s" context)
    Expect.equal outcome.After outcome.Before (sprintf "nothing was written; %s" context)

let private outcomes = runAll cases

[<Tests>]
let tests =
    testList "Cli.BadInput" [
        for i, c in Array.indexed cases do yield testCase c.Name (fun () -> check cases outcomes i)
        yield testCase "the suite has at least 40 cases across the commands" <| fun () ->
            Expect.isGreaterThanOrEqual cases.Length 40 "cases"
        yield testCase "--verbose adds the stack trace to a user error" <| fun () ->
            use dir = new TempDir()
            let result = run (trainArgs dir.Path [ "--ladder"; "abc"; "--verbose" ])
            Expect.equal result.Code 2 result.Err
            Expect.stringContains result.Err "error: --ladder" "the error line"
            Expect.stringContains result.Err "   at " "the stack trace"
    ]
