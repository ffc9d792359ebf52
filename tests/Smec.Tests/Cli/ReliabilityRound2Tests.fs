/// Reliability, round two (issue 29), as a table: every case is a user's mistake of one family —
/// YAML, user data verified before anything runs (sweeps, reproduce, train), dims against the
/// encoder, split rules, sweep size, thread counts, training options in their flags, seals,
/// safetensors, --help after an action, paths of the wrong kind — with its exit code, its one line
/// (key words) and nothing written. Each fails (or succeeds) before any encoding or training.
module Smec.Tests.Cli.ReliabilityRound2Tests

open System
open System.IO
open Expecto
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Storage
open Smec.Tests.TestSupport
open Smec.Tests.Cli.CliProcess
open Smec.Tests.Cli.BadInputTests

// ---- inputs ----------------------------------------------------------------------------------

let private lines (items: string seq) = String.Join("\n", items) + "\n"

/// A BEIR collection of `n` documents and queries (query qi judges document di), the manifests
/// folder declaring it as `id`, and a sweep spec over it (truncation to 24 dims).
let private collectionOf (id: string) (n: int) (dir: string) =
    write dir (sprintf "data/%s/corpus.jsonl" id) (lines [ for i in 1 .. n -> sprintf "{\"_id\": \"d%d\", \"title\": \"\", \"text\": \"document %d about topic %d\"}" i i i ])
    write dir (sprintf "data/%s/queries.jsonl" id) (lines [ for i in 1 .. n -> sprintf "{\"_id\": \"q%d\", \"text\": \"what about topic %d\"}" i i ])
    write dir (sprintf "data/%s/qrels/test.tsv" id) (lines [ yield "query-id\tcorpus-id\tscore"; for i in 1 .. n -> sprintf "q%d\td%d\t1" i i ])
    write dir (sprintf "manifests/datasets/%s.yaml" id)
        (sprintf "id: %s\ntitle: a user's collection\nkind: text-retrieval\nformat: beir\nmirrored: false\npath: %s\nfiles:\n  - { path: corpus.jsonl, role: corpus }\n  - { path: queries.jsonl, role: queries }\n  - { path: qrels/test.tsv, role: qrels, split: test }\nsource:\n  instructions: the user's own\nlicence: theirs\ncitation: theirs\n" id id)
    write dir "spec.yaml" (sprintf "name: mine\ndatasets: [%s]\nencoders: [all-MiniLM-L6-v2]\nmethods: [truncation]\ndims: [24]\n" id)

let private collection = collectionOf "my-collection" 40

/// Replace one line (1-based) of a file in the case folder.
let private editLine (dir: string) (file: string) (line: int) (text: string) =
    let path = Path.Combine(dir, file)
    let all = File.ReadAllLines path
    all.[line - 1] <- text
    File.WriteAllText(path, lines all)

let private userSweep (action: string) (dir: string) =
    [ "sweep"; action; Path.Combine(dir, "spec.yaml"); "--manifests"; Path.Combine(dir, "manifests"); "--results"; Path.Combine(dir, "results") ]

let private withData (c: Case) = { c with Env = fun d -> [ "SMEC_DATA_DIR", Path.Combine(d, "data") ] }

let private spec (text: string) (dir: string) = write dir "spec.yaml" text
let private sweepOf (action: string) (extra: string list) (dir: string) =
    [ "sweep"; action; Path.Combine(dir, "spec.yaml"); "--results"; Path.Combine(dir, "results") ] @ extra

let private miniSpec = "name: s\ndatasets: [scifact]\nencoders: [all-MiniLM-L6-v2]\nmethods: [pca]\n"

/// An embeddings manifest entry over n 4-d queries and documents (qi judges di), optionally with train qrels.
let private embeddings (n: int) (trainQueries: int option) (dir: string) =
    matrix dir "queries" (idsOf "q" n) (rowsOf n 4)
    matrix dir "docs" (idsOf "d" n) (rowsOf n 4)
    write dir "qrels.txt" (lines [ for i in 1 .. n -> sprintf "q%d 0 d%d 1" i i ])
    let train =
        match trainQueries with
        | Some t ->
            write dir "train.txt" (lines [ for i in 1 .. t -> sprintf "q%d 0 d%d 1" i i ])
            "    qrels_train: train.txt\n"
        | None -> ""
    write dir "manifest.yaml"
        ("embeddings:\n  - encoder: my-llm\n    stands_for: llm2vec-7b\n    dataset: scifact\n    corpus: docs.npy\n    corpus_ids: docs.ids.txt\n    queries: queries.npy\n    query_ids: queries.ids.txt\n    qrels_test: qrels.txt\n" + train)

let private reproduce6 (extra: string list) (dir: string) =
    reproduceArgs dir ([ "--table"; "6"; "--profile"; "paper"; "--embeddings"; Path.Combine(dir, "manifest.yaml") ] @ extra)

/// Write `name`.safetensors from the case's `name`.npy (one tensor, or a second one beside it).
let private asSafetensors (name: string) (tensors: string list) (dir: string) =
    let struct (values, rows, cols) = Npy.ReadFloat32(Path.Combine(dir, name + ".npy"))
    let path = Path.Combine(dir, name + ".safetensors")
    match tensors with
    | [ one ] -> Safetensors.WriteFloat32(path, one, ReadOnlySpan values, rows, cols)
    | _ ->
        // Two tensors: the file format by hand (header JSON, then both tensors' bytes).
        let bytes = Array.zeroCreate<byte> (values.Length * 4)
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length)
        let header =
            sprintf "{\"%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[0,%d]},\"%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%d,%d]}}"
                tensors.[0] rows cols bytes.Length tensors.[1] rows cols bytes.Length (2 * bytes.Length)
        let headerBytes = Text.Encoding.UTF8.GetBytes header
        use stream = File.Create path
        for chunk in [ BitConverter.GetBytes(int64 headerBytes.Length); headerBytes; bytes; bytes ] do stream.Write(chunk, 0, chunk.Length)
    File.Delete(Path.Combine(dir, name + ".npy"))
    write dir "manifest.yaml" (File.ReadAllText(Path.Combine(dir, "manifest.yaml")).Replace(name + ".npy", name + ".safetensors"))

/// A truncation model saved through the API (sealed, as every save is), then `change`d.
let private savedModel (change: string -> unit) (dir: string) =
    goodSearchInputs dir
    use model = new Truncation([| 4; 2 |])
    let folder = Path.Combine(dir, "model")
    model.Save folder
    change folder

let private compressArgs (dir: string) =
    [ "compress"; "--model"; Path.Combine(dir, "model"); "--in"; Path.Combine(dir, "docs.npy"); "--dim"; "2"; "--out"; Path.Combine(dir, "out.npy") ]

let private train (extra: string list) (dir: string) = trainArgs dir ([ "--ladder"; "4,2"; "--validation-queries"; "1" ] @ extra)
let private stdoutCase name setup args fragment = { case name setup args 0 fragment with OnStdout = true }

/// 101 learning rates x 100 batch sizes of SMEC: 10,100 points.
let private bigGrid =
    let rates = String.Join(", ", [ for i in 1 .. 101 -> sprintf "0.00%d" i ])
    let batches = String.Join(", ", [ 2 .. 101 ])
    sprintf "name: s\ndatasets: [scifact]\nencoders: [all-MiniLM-L6-v2]\nmethods: [smec]\ngrid: { learning_rate: [%s], batch_size: [%s] }\n" rates batches

// ---- the cases -------------------------------------------------------------------------------

let cases : Case array =
    [| // one YAML error path: file, line and column, exit 2, for every YAML the harness reads
      case "yaml: sweep spec with an unclosed [" (spec "name: x\ndatasets: [scifact\nencoders: [e]\n") (sweepOf "plan" []) 2 "spec.yaml:3:1: not valid YAML"
      case "yaml: sweep spec with an unclosed {" (spec "name: x\nbudget: { max_steps: 3\n") (sweepOf "run" []) 2 "spec.yaml:3:1: not valid YAML"
      case "yaml: sweep spec with an unclosed quote" (spec "name: \"x\ndatasets: [scifact]\n") (sweepOf "plan" []) 2 "spec.yaml:"
      case "yaml: sweep spec with a bad indentation" (spec "name: x\n  datasets: [scifact]\n") (sweepOf "plan" []) 2 "spec.yaml:2:"
      case "yaml: embeddings manifest with an unclosed [ (reproduce)" (fun d -> write d "manifest.yaml" "embeddings:\n  - encoder: [x\n") (reproduce6 []) 2 "manifest.yaml:3:1: not valid YAML"
      case "yaml: embeddings manifest with an unclosed { (sweep)" (fun d -> spec miniSpec d; write d "manifest.yaml" "embeddings: { x: 1\n")
          (fun d -> sweepOf "plan" [ "--embeddings"; Path.Combine(d, "manifest.yaml") ] d) 2 "manifest.yaml:2:1: not valid YAML"
      { case "yaml: a data manifest with an unclosed [" brokenManifestsFolder (fun _ -> [ "data"; "list" ]) 2 "broken.yaml:3:1: not valid YAML" with
          Env = fun d -> [ "SMEC_MANIFESTS_DIR", Path.Combine(d, "manifests") ] }
      case "yaml: a --manifests folder with a broken dataset manifest (sweep)" (fun d -> collection d; write d "manifests/datasets/my-collection.yaml" "id: [my-collection\n")
          (userSweep "plan") 2 "my-collection.yaml:2:1: not valid YAML"
      // --help after any action
      stdoutCase "help: smec sweep run --help" none (fun _ -> [ "sweep"; "run"; "--help" ]) "USAGE: smec sweep"
      stdoutCase "help: smec sweep plan spec.yaml --help" none (fun d -> [ "sweep"; "plan"; Path.Combine(d, "x.yaml"); "--help" ]) "USAGE: smec sweep"
      stdoutCase "help: smec train --lr 0.1 --help" none (fun _ -> [ "train"; "--lr"; "0.1"; "--help" ]) "USAGE: smec train"
      // paths of the wrong kind
      case "paths: sweep --results is a file" (fun d -> spec miniSpec d; write d "results" "not a folder") (sweepOf "plan" []) 2 "--results: "
      case "paths: sweep spec is a folder" (fun d -> Directory.CreateDirectory(Path.Combine(d, "specs")) |> ignore)
          (fun d -> [ "sweep"; "plan"; Path.Combine(d, "specs"); "--results"; Path.Combine(d, "results") ]) 2 "is a folder; expected a sweep spec file"
      case "paths: reproduce --results is a file" (fun d -> write d "results" "not a folder") (fun d -> reproduceArgs d [ "--table"; "2" ]) 2 "--results: "
      case "sweep: unknown action" (spec miniSpec) (sweepOf "plot" []) 2 "unknown action 'plot'; expected plan, run, status or report"
      // limits that protect the machine
      case "size: a grid of 10,100 points without --force" (spec bigGrid) (sweepOf "plan" []) 2 "10100 points"
      case "size: 20,000 seeds without --force (run)" (spec (miniSpec + sprintf "seeds: [%s]\n" (String.Join(", ", [ 1 .. 20000 ])))) (sweepOf "run" []) 2 "--force"
      { case "threads: SMEC_THREADS=abc" (trainInputs 4 4) (train []) 2 "SMEC_THREADS: 'abc' is not a positive whole number" with Env = fun _ -> [ "SMEC_THREADS", "abc" ] }
      { case "threads: SMEC_THREADS=0" (trainInputs 4 4) (train []) 2 "SMEC_THREADS: '0'" with Env = fun _ -> [ "SMEC_THREADS", "0" ] }
      // dims against the encoder's width
      case "dims: wider than the encoder" (spec (miniSpec + "dims: [8, 512]\n")) (sweepOf "plan" []) 2 "dims[1] (line 5): 512 is wider than encoder 'all-MiniLM-L6-v2'"
      case "dims: the paper ladder on a 384-d encoder" (spec (miniSpec + "profile: paper\n")) (sweepOf "run" []) 2 "the paper profile's ladder"
      case "dims: wider than an embeddings manifest's matrices" (fun d -> embeddings 40 None d; spec "name: s\ndatasets: [scifact]\nencoders: [my-llm]\nmethods: [pca]\ndims: [2, 8]\n" d)
          (fun d -> sweepOf "plan" [ "--embeddings"; Path.Combine(d, "manifest.yaml") ] d) 2 "dims[1] (line 5): 8 is wider than encoder 'my-llm', which gives 4-d"
      // method options the spec's types allow but the method refuses, in the spec's words
      case "options: a temperature of 0" (spec (miniSpec.Replace("[pca]", "[smec, pca]") + "dims: [24]\noptions: { smec: { loss_temperature: 0 } }\n")) (sweepOf "plan" []) 2
          "method 'smec' with loss_temperature=0, selection=per-dim, tuning=local-grid: loss_temperature must be > 0"
      case "options: a zero ADS temperature on a grid axis (run)" (spec (miniSpec.Replace("[pca]", "[smec]") + "dims: [24]\ngrid: { ads_temperature_end: [0.1, 0] }\n")) (sweepOf "run" []) 2
          "ads_temperature_end=0"
      // a user's collection, parsed whole before plan or run
      withData (case "collection: a truncated JSON line in corpus.jsonl" (fun d -> collection d; editLine d "data/my-collection/corpus.jsonl" 3 "{\"_id\": \"d3\", \"title\": \"\", \"te")
                    (userSweep "plan") 2 "corpus.jsonl:3: not a complete JSON object")
      withData (case "collection: a qrels line naming an unknown document" (fun d -> collection d; editLine d "data/my-collection/qrels/test.tsv" 2 "q1\td999\t1")
                    (userSweep "run") 2 "d999")
      // smec reproduce checks a user's collection that stands for a catalog dataset (SMEC_MANIFESTS_DIR) before anything runs.
      { case "reproduce: a user's collection standing for cranfield, with a truncated JSON line"
            (fun d -> collectionOf "cranfield" 40 d; editLine d "data/cranfield/corpus.jsonl" 3 "{\"_id\": \"d3\", \"title\": \"\", \"te")
            (fun d -> reproduceArgs d [ "--table"; "2" ]) 2 "corpus.jsonl:3"
          with Env = fun d -> [ "SMEC_DATA_DIR", Path.Combine(d, "data"); "SMEC_MANIFESTS_DIR", Path.Combine(d, "manifests") ] }
      withData (case "collection: duplicate document ids" (fun d -> collection d; editLine d "data/my-collection/corpus.jsonl" 2 "{\"_id\": \"d1\", \"title\": \"\", \"text\": \"again\"}")
                    (userSweep "plan") 2 "id 'd1' occurs twice")
      withData (case "collection: a document without _id" (fun d -> collection d; editLine d "data/my-collection/corpus.jsonl" 4 "{\"title\": \"\", \"text\": \"no id\"}")
                    (userSweep "plan") 2 "corpus.jsonl:4: missing field '_id'")
      withData (case "collection: an empty corpus" (fun d -> collection d; write d "data/my-collection/corpus.jsonl" "")
                    (userSweep "plan") 2 "corpus.jsonl: no documents")
      withData (case "collection: a query with empty text" (fun d -> collection d; editLine d "data/my-collection/queries.jsonl" 5 "{\"_id\": \"q5\", \"text\": \"  \"}")
                    (userSweep "run") 2 "queries.jsonl:5: query 'q5' has empty text")
      withData (case "collection: a relevance that is not a number" (fun d -> collection d; editLine d "data/my-collection/qrels/test.tsv" 3 "q2\td2\thigh")
                    (userSweep "plan") 2 "test.tsv:3")
      withData (case "collection: too few judged queries to split" (collectionOf "my-collection" 5) (userSweep "plan") 2 "too few")
      withData (case "collection: a given-train-test split without train qrels" (fun d -> collection d; write d "manifests/datasets/my-collection.yaml" (File.ReadAllText(Path.Combine(d, "manifests/datasets/my-collection.yaml")) + "split: { rule: given-train-test, validation: 10 }\n"))
                    (userSweep "plan") 2 "train")
      // embeddings manifests: every file read and checked before anything runs
      case "embeddings: qrels judging an unknown document" (fun d -> embeddings 40 None d; write d "qrels.txt" "q1 0 d1 1\nq2 0 d99 1\n") (reproduce6 []) 2 "qrels.txt:2: document 'd99' is not in the corpus"
      case "embeddings: qrels judging an unknown query" (fun d -> embeddings 40 None d; write d "qrels.txt" "q1 0 d1 1\nq77 0 d2 1\n") (reproduce6 []) 2 "qrels.txt:2: query 'q77'"
      case "embeddings: empty test qrels" (fun d -> embeddings 40 None d; write d "qrels.txt" "") (reproduce6 []) 2 "qrels.txt: no judgements"
      // 100 train queries, below SplitRules.kFoldBelow: k-fold pools train and test judgements, so a query judged in both is refused.
      case "embeddings: train and test qrels judging the same queries" (embeddings 100 (Some 100)) (reproduce6 []) 2 "query 'q1' is judged in both the train and the test qrels"
      case "embeddings: the same check in a sweep" (fun d -> embeddings 100 (Some 100) d; spec "name: s\ndatasets: [scifact]\nencoders: [my-llm]\nmethods: [pca]\ndims: [2]\n" d)
          (fun d -> sweepOf "plan" [ "--embeddings"; Path.Combine(d, "manifest.yaml") ] d) 2 "query 'q1' is judged in both the train and the test qrels"
      case "embeddings: a safetensors file with two tensors" (fun d -> embeddings 40 None d; asSafetensors "docs" [ "a"; "b" ] d) (reproduce6 []) 2 "holds 2 tensors (a, b); expected exactly one"
      stdoutCase "embeddings: safetensors are accepted (reproduce --list)" (fun d -> embeddings 40 None d; asSafetensors "docs" [ "embeddings" ] d; asSafetensors "queries" [ "embeddings" ] d)
          (reproduce6 [ "--list" ]) "item 6"
      // smec train: options in their flags, data before training
      case "train: --batch-size 1" (trainInputs 4 4) (train [ "--batch-size"; "1" ]) 2 "--batch-size: 1 is out of range; expected a whole number >= 2"
      case "train: --lr 0" (trainInputs 4 4) (train [ "--lr"; "0" ]) 2 "--lr: 0 is out of range"
      case "train: --lr nan" (trainInputs 4 4) (train [ "--lr"; "nan" ]) 2 "--lr: NaN"
      case "train: --max-steps 0" (trainInputs 4 4) (train [ "--max-steps"; "0" ]) 2 "--max-steps: 0"
      case "train: --eval-every 0" (trainInputs 4 4) (train [ "--eval-every"; "0" ]) 2 "--eval-every: 0"
      case "train: --hard-negatives -1" (trainInputs 4 4) (train [ "--hard-negatives"; "-1" ]) 2 "--hard-negatives: -1 is out of range; expected a whole number >= 0 (option hard_negatives_per_query)"
      case "train: --sxbm-top-k 0" (trainInputs 4 4) (train [ "--sxbm-top-k"; "0" ]) 2 "--sxbm-top-k: 0 is out of range; expected a whole number >= 1 (option sxbm_top_k)"
      case "train: --validation-queries as many as the train queries" (trainInputs 4 4) (fun d -> trainArgs d [ "--ladder"; "4,2"; "--validation-queries"; "3" ]) 2 "--validation-queries: 3 held out"
      case "train: a hold-out that leaves one pair" (trainInputs 4 4) (fun d -> trainArgs d [ "--ladder"; "4,2"; "--validation-queries"; "2" ]) 2 "leaves 1 judged"
      case "train: train qrels judging an unknown document" (fun d -> trainInputs 4 4 d; write d "qrels/train.tsv" "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td99\t1\nq3\td3\t1\n")
          (train []) 2 "judges document 'd99'"
      case "train: train qrels judging an unknown query" (fun d -> trainInputs 4 4 d; write d "qrels/train.tsv" "query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td2\t1\nq3\td3\t1\n")
          (train []) 2 "query 'q9' has no row"
      // saved models: nothing trusted without its seal
      case "seal: a saved model whose seal was deleted" (savedModel (fun f -> File.Delete(Path.Combine(f, ModelSeal.FileName)))) compressArgs 2 "seal.json: missing"
      case "seal: a model.json edited by hand" (savedModel (fun f -> let p = Path.Combine(f, SavedModel.ManifestFile) in File.WriteAllText(p, File.ReadAllText(p).Replace("\"dims\"", "\"dims\" "))))
          compressArgs 2 "model.json: checksum"
      case "seal: tensors.bin changed after saving" (savedModel (fun f -> File.AppendAllText(Path.Combine(f, SavedModel.TensorsFile), "x"))) compressArgs 2 "tensors.bin: checksum" |]

let private outcomes = runAll cases

[<Tests>]
let tests =
    testList "Cli.ReliabilityRound2" [
        for i, c in Array.indexed cases do yield testCase c.Name (fun () -> check cases outcomes i)
        yield testCase "the suite has at least 40 cases" <| fun () -> Expect.isGreaterThanOrEqual cases.Length 40 "cases"

        yield testCase "SMEC_THREADS above the cores is capped with a message, and the command finishes" <| fun () ->
            use dir = new TempDir()
            goodSearchInputs dir.Path
            let result = runWith [ "SMEC_THREADS", "100000" ] 60 (searchArgs dir.Path)
            Expect.equal result.Code 0 result.Err
            Expect.stringContains result.Err (sprintf "SMEC_THREADS=100000 exceeds the %d cores of this machine; using %d threads" Environment.ProcessorCount Environment.ProcessorCount) "the cap is said"

        yield testCase "a checkpoint whose bytes changed is refused, saying how to start afresh" <| fun () ->
            use dir = new TempDir()
            let checkpoint = Path.Combine(dir.Path, "ckpt.bin")
            let data = Smec.Tests.SciFactFixture.trainingData 8L
            ReliabilityTests.train data 1e-3 20 checkpoint Int32.MaxValue |> ignore
            let bytes = File.ReadAllBytes checkpoint
            bytes.[bytes.Length / 2] <- bytes.[bytes.Length / 2] ^^^ 0xFFuy // inside the tensors
            File.WriteAllBytes(checkpoint, bytes)
            let message = try ReliabilityTests.train data 1e-3 20 checkpoint Int32.MaxValue |> ignore; "" with :? InvalidDataException as e -> e.Message
            Expect.stringContains message "do not match the checksum" "refused"
            Expect.stringContains message "delete it to start afresh" "says how to start fresh"

        yield testCase "reference CSVs: a NaN, an infinity or a missing column is refused with its file and line" <| fun () ->
            use dir = new TempDir()
            let failure (load: string -> unit) (name: string) (text: string) =
                let path = Path.Combine(dir.Path, name)
                File.WriteAllText(path, text)
                try load path; "" with Failure message -> message
            let blessed = Smec.Experiments.Verdicts.Blessed.load >> ignore
            let header = "panel,row,column,value,sd,per_seed,seeds,cell_hash,blessed_on,data_identity\n"
            let row (value: string) (perSeed: string) = sprintf "SciFact,pca,24,%s,0,%s,1,abc,2026-12-01,\n" value perSeed
            Expect.stringContains (failure blessed "a.csv" (header + row "0.5" "0.5" + row "NaN" "0.5")) "a.csv:3: field 'value' is 'NaN'; expected a finite number" "NaN value"
            Expect.stringContains (failure blessed "b.csv" (header + row "0.5" "Infinity")) "b.csv:2: field 'per_seed' is 'Infinity'" "infinite per-seed value"
            Expect.stringContains (failure blessed "c.csv" "panel,row,column,sd\nSciFact,pca,24,0\n") "c.csv:1: header lacks column(s) value" "a missing column"
            let published = Smec.Experiments.Catalog.Published.load >> ignore
            let good = File.ReadAllLines(Path.Combine(repoRoot, "paper-results", "published.csv")) |> Array.take 2
            let nan = good.[1].Replace(",31,percent,", ",NaN,percent,")
            Expect.stringContains (failure published "p.csv" (lines [ good.[0]; good.[1]; nan ])) "p.csv:3: field 'value' is 'NaN'; expected a finite number" "published NaN"

        yield testCase "AtomicFolder: a failing write leaves no staging folder and keeps the old folder" <| fun () ->
            use dir = new TempDir()
            let target = Path.Combine(dir.Path, "model")
            AtomicFolder.Write(target, fun staging -> File.WriteAllText(Path.Combine(staging, "a.txt"), "old"))
            let failed = try AtomicFolder.Write(target, fun staging -> File.WriteAllText(Path.Combine(staging, "a.txt"), "new"); raise (IOException "No space left on device")); false with :? IOException -> true
            Expect.isTrue failed "the error reaches the caller"
            Expect.equal (File.ReadAllText(Path.Combine(target, "a.txt"))) "old" "the old folder is kept"
            Expect.equal (Directory.GetDirectories dir.Path |> Array.map Path.GetFileName) [| "model" |] "no staging folder left"
            AtomicFolder.Write(target, fun staging -> File.WriteAllText(Path.Combine(staging, "a.txt"), "new"))
            Expect.equal (File.ReadAllText(Path.Combine(target, "a.txt"))) "new" "replaced"
            Expect.equal (Directory.GetDirectories dir.Path |> Array.map Path.GetFileName) [| "model" |] "nothing else left"
    ]
