/// `smec bench`: one side-by-side table of this harness against what a user would otherwise write:
/// each method's training step against the same step in PyTorch (bench/torch/steps.py, Debian's
/// python3-torch), exact search against the bare matrix product it is built on, and memory (peak RSS,
/// RSS growth over many training steps). Each row alternates its two sides in one run and reports the
/// minimum and the median of N repeats, and their ratio. A benchmark, not a test: it asserts nothing.
/// The data are random unit vectors (speed only; no retrieval quality is measured or implied).
module Smec.Experiments.Bench.BenchCommand

open System
open System.Diagnostics
open System.IO
open Argu
open TorchSharp
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Experiments.Methods

type BenchArgs =
    | [<Unique>] Queries of int
    | [<Unique>] Docs of int
    | [<Unique>] Dim of int
    | [<Unique>] K of int
    | [<Unique>] Seed of int64
    | [<Unique>] Block_Mib of int
    | [<Unique>] Repeat of int
    | [<Unique>] Steps of int
    | [<Unique>] Memory_Steps of int
    | [<Unique>] Memory_Settle_Steps of int
    | Only of section: string
    | [<Unique>] Encoder_Docs of int
    | [<Unique>] Python of path: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Queries _ -> "number of queries (default 10000)"
            | Docs _ -> "number of documents (default 100000)"
            | Dim _ -> "embedding dimension (default 256)"
            | K _ -> "documents per query (default 100)"
            | Seed _ -> "seed of the random vectors (default 1)"
            | Block_Mib _ -> "score block budget in MiB (default 256)"
            | Repeat _ -> "timed repeats of each side, alternating sides (default 5; min and median reported)"
            | Steps _ -> "training steps per timed repeat (default 20)"
            | Memory_Steps _ -> "training steps the RSS growth row measures (default 10000)"
            | Memory_Settle_Steps _ -> "training steps before the RSS growth row starts measuring, while the heap settles (default 10000)"
            | Only _ -> "run only these sections: steps, ensembles, encoders, search, memory (repeatable; default all)"
            | Encoder_Docs _ -> "SciFact documents per encoder repeat (default 512; with few documents a length-sorted batch spans many lengths, unlike a real corpus)"
            | Python _ -> "python with torch for the reference side (default /usr/bin/python3, Debian's python3-torch)"

/// Peak resident set size of this process (VmHWM in /proc/self/status), in bytes; None where /proc is absent.
let peakRssBytes () =
    try
        File.ReadLines "/proc/self/status"
        |> Seq.tryFind (fun l -> l.StartsWith "VmHWM:")
        |> Option.map (fun l -> int64 (l.Split(' ', StringSplitOptions.RemoveEmptyEntries).[1]) * 1024L)
    with :? IOException -> None

/// Current resident set size (VmRSS), in bytes.
let rssBytes () =
    try
        File.ReadLines "/proc/self/status"
        |> Seq.tryFind (fun l -> l.StartsWith "VmRSS:")
        |> Option.map (fun l -> int64 (l.Split(' ', StringSplitOptions.RemoveEmptyEntries).[1]) * 1024L)
    with :? IOException -> None

let private time (action: unit -> unit) =
    let clock = Stopwatch.StartNew()
    action ()
    clock.Elapsed.TotalSeconds

let private median (xs: float list) =
    let sorted = List.sort xs |> Array.ofList
    let n = sorted.Length
    if n % 2 = 1 then sorted.[n / 2] else (sorted.[n / 2 - 1] + sorted.[n / 2]) / 2.0

/// One row of the table: ours against the reference, seconds per unit of work for each repeat.
type Row =
    { Name: string
      Unit: string
      Ours: float list
      Reference: float list
      ReferenceName: string
      Target: string }

let private printRow (row: Row) =
    let ms xs f =
        if List.isEmpty xs then sprintf "%8s" "-"
        else let v = 1000.0 * f xs in if v >= 1000.0 then sprintf "%8.0f" v else sprintf "%8.3f" v
    let ratio f = if List.isEmpty row.Reference || List.isEmpty row.Ours then sprintf "%9s" "-" else sprintf "%8.2fx" (f row.Ours / f row.Reference)
    printfn "| %-34s | %s | %s | %s | %s | %s | %s | %-9s |" row.Name (ms row.Ours List.min) (ms row.Ours median)
        (ms row.Reference List.min) (ms row.Reference median) (ratio List.min) (ratio median) row.Target

let private printHeader (unitName: string) (referenceName: string) =
    printfn ""
    printfn "| %-34s | ours min | ours med | %-8s | %-8s | min ratio | med ratio | target    |" ("row (ms per " + unitName + ")") (referenceName + " min") (referenceName + " med")
    printfn "|%s|---------:|---------:|---------:|---------:|----------:|----------:|-----------|" (String('-', 36))

/// The PyTorch side: one long-lived `steps.py serve` process, asked for N steps at a time.
type private TorchWorker(python: string, script: string, threads: int) =
    let psi =
        ProcessStartInfo(python, sprintf "\"%s\" serve %d" script threads,
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true)
    do psi.Environment.["OPENBLAS_NUM_THREADS"] <- string threads // Debian's torch calls OpenBLAS for matmul
    // The PyTorch side inherits our heap setting (NativeHeap's GLIBC_TUNABLES, or the user's), so neither
    // side pays page faults the other is spared.
    let proc = Process.Start psi
    member _.Time(folder: string, case: string, steps: int) =
        proc.StandardInput.WriteLine(sprintf "%s %s %d" folder case steps)
        proc.StandardInput.Flush()
        match proc.StandardOutput.ReadLine() with
        | null -> failwithf "the PyTorch reference (%s) stopped: %s" script (proc.StandardError.ReadToEnd())
        | line -> Double.Parse(line, Globalization.CultureInfo.InvariantCulture)
    interface IDisposable with
        member _.Dispose() =
            try proc.StandardInput.Close(); proc.WaitForExit 10000 |> ignore; if not proc.HasExited then proc.Kill() with _ -> ()
            proc.Dispose()

/// bench/torch/steps.py in the repository, found from the working directory upwards.
let referenceScript () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then None
        else
            let candidate = Path.Combine(dir.FullName, "bench", "torch", "steps.py")
            if File.Exists candidate then Some candidate else up dir.Parent
    up (DirectoryInfo(Directory.GetCurrentDirectory()))
    |> Option.orElse (up (DirectoryInfo AppContext.BaseDirectory))

/// Does this python have torch? (None = yes, Some reason = no.)
let torchMissing (python: string) =
    try
        let psi = ProcessStartInfo(python, "-c \"import torch, numpy\"", UseShellExecute = false, RedirectStandardError = true)
        use p = Process.Start psi
        let err = p.StandardError.ReadToEnd()
        p.WaitForExit()
        if p.ExitCode = 0 then None else Some(err.Trim().Split('\n') |> Array.last)
    with e -> Some e.Message

/// The PyTorch side for a section of rows (None, with the reason printed, when python or torch is missing)
/// and the folder its inputs are exported to; both cleaned up by `finish`.
let private torchSide (python: string) =
    let threads = torch.get_num_threads ()
    let script = referenceScript ()
    let missing =
        match script with
        | None -> Some "bench/torch/steps.py not found (run from the repository)"
        | Some _ -> torchMissing python
    missing |> Option.iter (fun why -> printfn "  PyTorch side unavailable (%s): install Debian's python3-torch (make bench does)" why)
    let folder = Path.Combine(Path.GetTempPath(), sprintf "smec-bench-%d" Environment.ProcessId)
    let worker = match script, missing with Some s, None -> Some(new TorchWorker(python, s, threads)) | _ -> None
    let finish () =
        worker |> Option.iter (fun w -> (w :> IDisposable).Dispose())
        try Directory.Delete(folder, true) with _ -> ()
    worker, folder, finish

let private trainingSteps (python: string) (repeats: int) (steps: int) =
    let worker, folder, finish = torchSide python
    use _stop = { new IDisposable with member _.Dispose() = finish () }
    printHeader "step" "torch"
    [ for key in BenchSteps.cases ->
          let case = BenchSteps.build key 1L
          try
              let dir = Path.Combine(folder, key)
              BenchSteps.export case dir 3 |> ignore // also the warm-up of the .NET side
              let timings =
                  [ for _ in 1 .. repeats ->
                        let ours = time (fun () -> for _ in 1 .. steps do case.Step() |> ignore) / float steps
                        let reference = worker |> Option.map (fun w -> w.Time(dir, key, steps) / float steps)
                        ours, reference ]
              let row =
                  { Name = key; Unit = "step"; Ours = List.map fst timings; Reference = List.choose snd timings
                    ReferenceName = "PyTorch"; Target = BenchSteps.targetOf key }
              printRow row
              row
          finally case.Dispose() ]

/// Each method's ensemble step at K members (BenchEnsembleSteps) against K solo steps of ours (the same
/// members, BenchEnsembleSteps.solo) and the same K-member step in PyTorch, alternating in one run.
let private ensembleSteps (python: string) (repeats: int) (steps: int) =
    let worker, folder, finish = torchSide python
    use _stop = { new IDisposable with member _.Dispose() = finish () }
    printfn ""
    printfn "| %-20s | ens min | ens med | K solo min | solo med | torch ens min | torch ens med | vs torch (min, med) | vs solo (min, med) | target |" "row (ms per step)"
    printfn "|%s|--------:|--------:|-----------:|---------:|--------------:|--------------:|--------------------:|-------------------:|--------|" (String('-', 22))
    for key in BenchEnsembleSteps.cases do
        for members in BenchEnsembleSteps.memberCounts do
            let ensemble = BenchEnsembleSteps.build key members 1L
            let solo = [ for k in 0 .. members - 1 -> BenchEnsembleSteps.solo key (1L + int64 k) ]
            try
                let dir = Path.Combine(folder, sprintf "%s-x%d" key members)
                BenchEnsembleSteps.export ensemble dir 3 |> ignore // also the warm-up
                for step, _ in solo do step () |> ignore
                let timings =
                    [ for _ in 1 .. repeats ->
                          let together = time (fun () -> for _ in 1 .. steps do ensemble.Step() |> ignore) / float steps
                          let alone = time (fun () -> for _ in 1 .. steps do for step, _ in solo do step () |> ignore) / float steps
                          let reference = worker |> Option.map (fun w -> w.Time(dir, key + "-ensemble", steps) / float steps)
                          together, alone, reference ]
                let ours = timings |> List.map (fun (t, _, _) -> t)
                let alone = timings |> List.map (fun (_, a, _) -> a)
                let reference = timings |> List.choose (fun (_, _, r) -> r)
                let ms xs f = if List.isEmpty xs then "-" else sprintf "%.3f" (1000.0 * f xs)
                let ratio xs f = if List.isEmpty xs then "-" else sprintf "%.2fx" (f ours / f xs)
                let target = if members = 1 then "diagnostic" elif members >= 32 then "<= 1.0x torch, <= 0.25x solo" else "<= 1.0x torch"
                printfn "| %-20s | %7s | %7s | %10s | %8s | %13s | %13s | %19s | %18s | %s |" (sprintf "%s x %d" key members)
                    (ms ours List.min) (ms ours median) (ms alone List.min) (ms alone median) (ms reference List.min) (ms reference median)
                    (sprintf "%s, %s" (ratio reference List.min) (ratio reference median)) (sprintf "%s, %s" (ratio alone List.min) (ratio alone median)) target
            finally
                ensemble.Dispose()
                for _, dispose in solo do dispose ()

/// RSS growth over `measured` steps after `settle` steps: the heap (libtorch's allocator caches, the .NET
/// GC's segments) grows to its working size over the first thousands of steps and then stays there, so
/// growth from the start would report that settling as a leak (issue 27: +41% over 10,000 MRL steps, flat
/// from 10,000 to 40,000). Each step runs in its own dispose scope, as the loop does.
let private rssGrowth (name: string) (step: unit -> unit) (settle: int) (measured: int) =
    for _ in 1 .. settle do step ()
    GC.Collect(); GC.WaitForPendingFinalizers()
    let before = rssBytes ()
    for _ in 1 .. measured do step ()
    GC.Collect(); GC.WaitForPendingFinalizers()
    let after = rssBytes ()
    match before, after with
    | Some b, Some a ->
        printfn "  RSS over %d steps of %s, after %d settling steps: %.1f MiB -> %.1f MiB, growth %+.2f%% (target < 5%%)"
            measured name settle (float b / 1048576.0) (float a / 1048576.0) (100.0 * float (a - b) / float b)
    | _ -> printfn "  RSS growth: unavailable (no /proc/self/status)"

/// The MRL step alone, then MRL's 8-member ensemble step over the same number of member steps.
let private memoryGrowth (settle: int) (measured: int) =
    let case = BenchSteps.build MethodRegistry.mrl.Key 1L
    try rssGrowth MethodRegistry.mrl.Key (fun () -> case.Step() |> ignore) settle measured
    finally case.Dispose()
    let members = 8
    let ensemble = BenchEnsembleSteps.build MethodRegistry.mrl.Key members 1L
    try rssGrowth (sprintf "the mrl ensemble of %d" members) (fun () -> ensemble.Step() |> ignore) (max 1 (settle / members)) (max 1 (measured / members))
    finally ensemble.Dispose()

/// MiniLM documents through the harness's encoder (tokenize, batches of 8 sorted by length, pool,
/// normalise) against a bare ONNX Runtime session on the same pre-tokenized documents at its best
/// batch size (same session options and threads); SciFact's first documents (real text, speed only).
let private encoders (repeats: int) (docCount: int) =
    let manifest = Smec.Core.Data.Manifests.ManifestCatalog.Default.Encoder "all-MiniLM-L6-v2"
    use encoder = new Smec.Core.Encoders.BertOnnxEncoder(manifest)
    let texts =
        (Smec.Core.Data.DatasetLoader.LoadText "scifact").Corpus
        |> Seq.truncate docCount |> Seq.map (fun d -> (d.Title + " " + d.Text).Trim()) |> Array.ofSeq
    let package = manifest.Source.Package
    use session =
        Smec.Core.Encoders.OnnxSessions.FromBytes(Smec.Core.Encoders.EmbeddedModel.ReadAll(package, manifest.Source.Resource), "bare")
    let tokens = texts |> Array.map encoder.Tokenize |> Array.sortByDescending (fun t -> t.Count)
    let bare (batchSize: int) () =
        for start in 0 .. batchSize .. tokens.Length - 1 do
            let batch = tokens.[start .. min (tokens.Length - 1) (start + batchSize - 1)]
            let length = batch |> Array.map (fun t -> t.Count) |> Array.max
            let shape = [| batch.Length; length |]
            let ids = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<int64>(shape)
            let mask = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<int64>(shape)
            let types = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<int64>(shape)
            for b in 0 .. batch.Length - 1 do
                for t in 0 .. batch.[b].Count - 1 do
                    ids.[b, t] <- int64 batch.[b].[t]
                    mask.[b, t] <- 1L
            use _ =
                session.Run(
                    [ Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("input_ids", ids)
                      Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("attention_mask", mask)
                      Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("token_type_ids", types) ],
                    [ "last_hidden_state" ])
            ()
    let ours () = encoder.Encode(texts, Smec.Core.Encoders.EncodeRole.Document) |> ignore
    let batchSizes = [ 8; 32; 64 ]
    ours (); bare 32 () // warm-up
    let timings = [ for _ in 1 .. repeats -> time ours, [ for b in batchSizes -> b, time (bare b) ] ]
    let perBatch = batchSizes |> List.map (fun b -> b, timings |> List.map (fun (_, bs) -> bs |> List.find (fst >> (=) b) |> snd))
    let bestBatch, bestTimes = perBatch |> List.minBy (fun (_, ts) -> List.min ts)
    // Our row includes tokenizing, which the bare side was spared: shown apart, so the gap can be read.
    let tokenizing = [ for _ in 1 .. repeats -> time (fun () -> texts |> Array.iter (encoder.Tokenize >> ignore)) ] |> List.min
    printfn ""
    printfn "Encoders: all-MiniLM-L6-v2 on the first %d SciFact documents; bare ONNX Runtime by batch (min ms per doc): %s; best batch %d; tokenizing (inside our row) %.2f ms per doc"
        texts.Length (perBatch |> List.map (fun (b, ts) -> sprintf "%d: %.2f" b (1000.0 * List.min ts / float texts.Length)) |> String.concat ", ") bestBatch
        (1000.0 * tokenizing / float texts.Length)
    printHeader "doc" "bare ORT"
    printRow
        { Name = "MiniLM encoder (batch 8, pooled)"; Unit = "doc"
          Ours = timings |> List.map (fun (o, _) -> o / float texts.Length)
          Reference = bestTimes |> List.map (fun t -> t / float texts.Length)
          ReferenceName = "bare ORT"; Target = "<= 1.11x" }
    printfn "  ResNet18: no row; its ONNX graphs declare a fixed batch of 1 (see docs/PERFORMANCE.md, \"What stands in the way of the remaining targets\")"

/// Exact search against the bare chunked matrix product it is built on (the same vectors, alternating).
let private search (args: ParseResults<BenchArgs>) (repeats: int) =
    let queryCount = args.GetResult(Queries, defaultValue = 10000)
    let docCount = args.GetResult(Docs, defaultValue = 100000)
    let dim = args.GetResult(Dim, defaultValue = 256)
    let k = args.GetResult(K, defaultValue = 100)
    Determinism.Seed(args.GetResult(Seed, defaultValue = 1L)) |> ignore
    let device = TorchRuntime.Device
    use queries = torch.randn(int64 queryCount, int64 dim, device = device)
    use docs = torch.randn(int64 docCount, int64 dim, device = device)
    let tieRanks = Smec.Core.Metrics.TrecOrder.TieRanks(Array.init docCount (sprintf "d%d"))
    let budget = args.TryGetResult Block_Mib |> Option.map (fun mib -> int64 mib <<< 20) |> Option.defaultValue SearchOptions.DefaultScoreBlockBytes
    let rowsPerChunk = ExactSearch.RowsPerChunk(int64 queryCount, docCount, budget)
    let options = SearchOptions(Similarity = Similarity.Cosine, ScoreBlockBytes = budget)
    let mutable checksum = 0.0
    let bareMatmul () =
        ExactSearch.ScoreBlocks(queries, docs, Similarity.Cosine, budget, fun _ block -> ())
    let exact () =
        ExactSearch.Search(queries, docs, k, tieRanks, null, options, fun _ _ scores -> checksum <- checksum + float scores.[0])
    printfn ""
    printfn "Exact search: %d queries x %d docs x %d dims, top %d, cosine, device %O; score block %d queries (%.0f MiB, budget %d MiB)"
        queryCount docCount dim k device rowsPerChunk (float rowsPerChunk * float docCount * 4.0 / 1048576.0) (budget / 1048576L)
    // One small warm-up of each path (libtorch's first-call costs are not what we measure).
    let warmQueries = queries.narrow(0, 0, int64 (min queryCount 64))
    ExactSearch.ScoreBlocks(warmQueries, docs, Similarity.Cosine, budget, fun _ _ -> ())
    ExactSearch.Search(warmQueries, docs, k, tieRanks, null, options, fun _ _ _ -> ())
    let timings = [ for _ in 1 .. repeats -> time bareMatmul, time exact ]
    printHeader "search" "matmul"
    printRow
        { Name = "exact search (top-k, ties)"; Unit = "search"; Ours = List.map snd timings; Reference = List.map fst timings
          ReferenceName = "bare matmul"; Target = "<= 1.25x" }
    let flops = 2.0 * float queryCount * float docCount * float dim
    printfn "  (bare matmul: normalise + chunked addmm_, no top-k: %.1f GFLOP/s at its fastest; checksum %.4f)"
        (flops / (timings |> List.map fst |> List.min) / 1e9) checksum

let run (args: ParseResults<BenchArgs>) : int =
    let sections = match args.GetResults Only with [] -> [ "steps"; "ensembles"; "encoders"; "search"; "memory" ] | s -> s
    for s in sections do
        if not (List.contains s [ "steps"; "ensembles"; "encoders"; "search"; "memory" ]) then
            raise (ArgumentException(sprintf "--only %s: expected steps, ensembles, encoders, search or memory" s))
    let repeats = max 1 (args.GetResult(Repeat, defaultValue = 5))
    Determinism.ConfigureTorch()
    let load = try File.ReadAllText("/proc/loadavg").Trim() with _ -> "unavailable"
    let struct (policy, _) = OpenMpEnvironment.WaitPolicy
    printfn "smec bench, %s UTC: torch threads %d, OpenMP wait policy %s, load average %s" (DateTime.UtcNow.ToString "yyyy-MM-dd HH:mm") (torch.get_num_threads ()) policy load
    printfn "  native heap: %s (the PyTorch side runs with the same)" (NativeHeap.Describe())
    printfn "RANDOM unit vectors (speed only, not a retrieval result); %d alternating repeats per row, ratio = ours / reference" repeats
    if List.contains "steps" sections then
        printfn ""
        printfn "Training steps (loss + backward + optimizer, catalog local settings) against the same step in PyTorch:"
        trainingSteps (args.GetResult(Python, defaultValue = "/usr/bin/python3")) repeats (max 1 (args.GetResult(Steps, defaultValue = 20))) |> ignore
    if List.contains "ensembles" sections then
        printfn ""
        printfn "Ensemble steps (issue 27: K members as one batched model) against K solo steps of ours and the K-member step in PyTorch (functorch.vmap for MRL, hand-batched for the adaptors):"
        ensembleSteps (args.GetResult(Python, defaultValue = "/usr/bin/python3")) repeats (max 1 (args.GetResult(Steps, defaultValue = 20)))
    if List.contains "encoders" sections then encoders repeats (args.GetResult(Encoder_Docs, defaultValue = 512))
    if List.contains "search" sections then search args repeats
    if List.contains "memory" sections then
        printfn ""
        printfn "Memory:"
        memoryGrowth (max 0 (args.GetResult(Memory_Settle_Steps, defaultValue = 10000))) (max 1 (args.GetResult(Memory_Steps, defaultValue = 10000)))
        match peakRssBytes () with
        | Some bytes ->
            // The 2 GiB target is the exact search's (10k x 100k x 256); the encoder sessions and the
            // training-step cases of the other sections add their own memory to the process's peak.
            let target =
                if sections |> List.forall (fun s -> s = "search" || s = "memory") then "target < 2 GiB"
                else "the < 2 GiB target is the search's: measure it with --only search --only memory"
            printfn "  peak memory (VmHWM, whole process, every section above): %.2f GiB (%s)" (float bytes / 1073741824.0) target
        | None -> printfn "  peak memory: unavailable (no /proc/self/status)"
    printfn "load average at the end: %s" (try File.ReadAllText("/proc/loadavg").Trim() with _ -> "unavailable")
    0
