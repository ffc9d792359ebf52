/// `smec bench`: speed of exact search against the bare matrix product it is built on. A
/// benchmark, not a test: it prints timings and asserts nothing. The data are random unit
/// vectors (speed only; no retrieval quality is measured or implied).
module Smec.Experiments.Cli.BenchCommand

open System
open System.Diagnostics
open System.IO
open Argu
open TorchSharp
open Smec.Core.Retrieval
open Smec.Core.Runtime

type BenchArgs =
    | [<Unique>] Queries of int
    | [<Unique>] Docs of int
    | [<Unique>] Dim of int
    | [<Unique>] K of int
    | [<Unique>] Seed of int64
    | [<Unique>] Block_Mib of int
    | [<Unique>] Repeat of int

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Queries _ -> "number of queries (default 10000)"
            | Docs _ -> "number of documents (default 100000)"
            | Dim _ -> "embedding dimension (default 256)"
            | K _ -> "documents per query (default 100)"
            | Seed _ -> "seed of the random vectors (default 1)"
            | Block_Mib _ -> "score block budget in MiB (default 256)"
            | Repeat _ -> "timed runs of each path, alternating; the fastest is reported (default 2, robust to a busy machine)"

/// Peak resident set size of this process (VmHWM in /proc/self/status), in bytes; None where /proc is absent.
let peakRssBytes () =
    try
        File.ReadLines "/proc/self/status"
        |> Seq.tryFind (fun l -> l.StartsWith "VmHWM:")
        |> Option.map (fun l -> int64 (l.Split(' ', StringSplitOptions.RemoveEmptyEntries).[1]) * 1024L)
    with :? IOException -> None

let private time (action: unit -> unit) =
    let clock = Stopwatch.StartNew()
    action ()
    clock.Elapsed.TotalSeconds

let run (args: ParseResults<BenchArgs>) : int =
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
    let repeats = max 1 (args.GetResult(Repeat, defaultValue = 2))
    let rowsPerChunk = ExactSearch.RowsPerChunk(int64 queryCount, docCount, budget)
    let options = SearchOptions(Similarity = Similarity.Cosine, ScoreBlockBytes = budget)
    let mutable checksum = 0.0
    let bareMatmul () =
        ExactSearch.ScoreBlocks(queries, docs, Similarity.Cosine, budget, fun _ block -> ())
    let search () =
        ExactSearch.Search(queries, docs, k, tieRanks, null, options, fun _ _ scores -> checksum <- checksum + float scores.[0])
    printfn "smec bench: exact search on RANDOM unit vectors (speed only, not a retrieval result)"
    printfn "  %d queries x %d docs x %d dims, top %d, cosine, device %O, torch threads %d"
        queryCount docCount dim k device (torch.get_num_threads ())
    printfn "  score block: %d queries x %d docs float32 = %.0f MiB (budget %d MiB), reused across chunks"
        rowsPerChunk docCount (float rowsPerChunk * float docCount * 4.0 / 1048576.0) (budget / 1048576L)
    // One small warm-up of each path (libtorch's first-call costs are not what we measure).
    let warmQueries = queries.narrow(0, 0, int64 (min queryCount 64))
    ExactSearch.ScoreBlocks(warmQueries, docs, Similarity.Cosine, budget, fun _ _ -> ())
    ExactSearch.Search(warmQueries, docs, k, tieRanks, null, options, fun _ _ _ -> ())
    let timings = [ for _ in 1 .. repeats -> time bareMatmul, time search ]
    let matmulSeconds = timings |> List.map fst |> List.min
    let searchSeconds = timings |> List.map snd |> List.min
    let flops = 2.0 * float queryCount * float docCount * float dim
    printfn "  bare matmul (normalise + chunked addmm_, no top-k): %8.3f s  %7.1f GFLOP/s" matmulSeconds (flops / matmulSeconds / 1e9)
    printfn "  exact search (the same + top-k + tie handling):     %8.3f s  %7.1f GFLOP/s" searchSeconds (flops / searchSeconds / 1e9)
    printfn "  search / matmul: %.2fx (target <= 1.5x); fastest of %d alternating runs each" (searchSeconds / matmulSeconds) repeats
    match peakRssBytes () with
    | Some bytes -> printfn "  peak memory (VmHWM, whole process): %.2f GiB (target < 2 GiB)" (float bytes / 1073741824.0)
    | None -> printfn "  peak memory: unavailable (no /proc/self/status)"
    printfn "  (checksum of top scores, all runs: %.4f)" checksum
    0
