/// The reliability mechanisms below the command line: result-store checksums and per-experiment
/// locks (two threads, a stale lock of a dead process), checkpoints refused for other data or
/// settings, a diverging loss stopped with its step, non-finite method outputs rejected.
module Smec.Tests.Cli.ReliabilityTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open TorchSharp
open type TorchSharp.torch.nn
open Smec.Core.Data
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Experiments.Running
open Smec.Experiments.Store
open Smec.Tests
open Smec.Tests.TestSupport

let private result (hash: string) (value: float) : ResultStore.ExperimentResult =
    { Hash = hash; ConfigHash = "c"; Implementation = "test/1"; ConfigJson = "{\"method\":\"x\"}"
      Measurements = Map.ofList [ "ndcg@10@24", value ]; PerQuery = None; Settings = Map.empty; Notes = []; PackageVersions = Map.empty
      DataChecksums = Map.empty; TorchThreads = 1; StartedUtc = DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc); Seconds = 1.5 }

/// A linear map 384 -> 48 trained with InfoNCE; `poison` makes the loss NaN from that step on.
type LinearObjective(poisonAt: int) =
    let layer = Linear(384L, 48L, hasBias = false)
    interface ITrainingObjective with
        member _.ParameterGroups = [ ParameterGroup([ layer.weight ]) ]
        member _.Loss(batch, step) =
            let loss = RankingLoss.Compute(RankingLossForm.InfoNce, layer.forward batch.Queries, layer.forward batch.Docs,
                                           batch.Relevance, batch.PositiveColumn, 0.05)
            if step.Step >= poisonAt then loss * torch.tensor nanf else loss
        member _.ValidationDims = [ 48 ]
        member _.Compress(x, _, _) = layer.forward x
        member _.Fingerprint = "linear-48"

let train (data: TrainingData) (lr: float) (steps: int) (checkpoint: string) (poisonAt: int) =
    Determinism.Seed data.Seed |> ignore
    let options = TrainingOptions(MaxSteps = steps, EvaluateEvery = 10, Patience = 100, Progress = false, BatchSize = 32,
                                  LearningRate = lr, CheckpointPath = checkpoint)
    TrainingLoop.Run(data, LinearObjective poisonAt, options)

/// The exception `f` throws (a failure when it throws none or another type).
let private throws<'E when 'E :> exn> (f: unit -> unit) : 'E =
    let outcome = try f (); None with :? 'E as e -> Some e
    match outcome with
    | Some e -> e
    | None -> failtestf "expected %s" typeof<'E>.Name

[<Tests>]
let tests =
    testList "Cli.Reliability" [
        testCase "a cached result carries a checksum; an edited one is reported and not reused" <| fun () ->
            use dir = new TempDir()
            ResultStore.save dir.Path (result "abc" 0.5)
            match ResultStore.tryLoad dir.Path "abc" with
            | Some(Ok r) -> Expect.equal r.Measurements.["ndcg@10@24"] 0.5 "round trip"
            | other -> failtestf "the saved result loads: %A" other
            let path = ResultStore.pathOf dir.Path "abc"
            let text = File.ReadAllText path
            Expect.stringContains (text.Replace(" ", "")) "\"checksum\":\"sha256:" "the checksum is stored"
            File.WriteAllText(path, text.Replace("0.5", "0.7")) // still valid JSON, another value
            match ResultStore.tryLoad dir.Path "abc" with
            | Some(Error message) -> Expect.stringContains message "checksum" "says why it is not reused"
            | other -> failtestf "an edited entry must not load: %A" other

        testCase "two threads on one experiment: one computes, the other waits and reuses its result" <| fun () ->
            use dir = new TempDir()
            let computed = ref 0
            let work () =
                ResultStore.withLock dir.Path "exp1" ignore
                    (fun () -> match ResultStore.tryLoad dir.Path "exp1" with Some(Ok r) -> Some r.Measurements.["ndcg@10@24"] | _ -> None)
                    (fun () ->
                        Interlocked.Increment computed |> ignore
                        Thread.Sleep 1500
                        ResultStore.save dir.Path (result "exp1" 0.25)
                        0.25)
            let values = [| 0.0; 0.0 |]
            let threads = [| for i in 0 .. 1 -> Thread(fun () -> values.[i] <- work ()) |]
            for t in threads do t.Start(); Thread.Sleep 100
            for t in threads do t.Join()
            Expect.equal computed.Value 1 "computed once"
            Expect.equal values [| 0.25; 0.25 |] "both got the result"
            Expect.isFalse (File.Exists(ResultStore.lockPathOf dir.Path "exp1")) "the lock is released"

        testCase "a lock left by a dead process is taken over" <| fun () ->
            use dir = new TempDir()
            use dead = Process.Start("true")
            dead.WaitForExit()
            let lockPath = ResultStore.lockPathOf dir.Path "exp2"
            Directory.CreateDirectory(Path.GetDirectoryName lockPath) |> ignore
            File.WriteAllText(lockPath, sprintf "%d\n%s\n%s\n" dead.Id Environment.MachineName (DateTime.UtcNow.ToString "o"))
            Expect.isFalse (ResultStore.processAlive dead.Id) "the owner is dead"
            let clock = Stopwatch.StartNew()
            let value = ResultStore.withLock dir.Path "exp2" ignore (fun () -> None) (fun () -> 42)
            Expect.equal value 42 "computed"
            Expect.isLessThan clock.Elapsed.TotalSeconds 5.0 "without waiting for the dead owner"

        testCase "before a run, locks of dead processes are removed (even beside a cached result); live ones are kept" <| fun () ->
            use dir = new TempDir()
            use dead = Process.Start("true")
            dead.WaitForExit()
            let write key pid =
                let path = ResultStore.lockPathOf dir.Path key
                Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
                File.WriteAllText(path, sprintf "%d\n%s\n%s\n" pid Environment.MachineName (DateTime.UtcNow.ToString "o"))
                path
            let stale, live = write "dead-owner" dead.Id, write "live-owner" Environment.ProcessId
            ResultStore.removeDeadLocks (Path.GetDirectoryName stale)
            Expect.isFalse (File.Exists stale) "the dead owner's lock is gone"
            Expect.isTrue (File.Exists live) "the live owner's lock stays"

        testCase "a lock held by a live process on this host is waited for" <| fun () ->
            use dir = new TempDir()
            let lockPath = ResultStore.lockPathOf dir.Path "exp3"
            Directory.CreateDirectory(Path.GetDirectoryName lockPath) |> ignore
            File.WriteAllText(lockPath, sprintf "%d\n%s\n%s\n" Environment.ProcessId Environment.MachineName (DateTime.UtcNow.ToString "o"))
            let messages = Collections.Concurrent.ConcurrentQueue<string>()
            let release = Threading.Tasks.Task.Run(fun () -> Thread.Sleep 1200; File.Delete lockPath)
            let clock = Stopwatch.StartNew()
            ResultStore.withLock dir.Path "exp3" messages.Enqueue (fun () -> None) (fun () -> ())
            release.Wait()
            Expect.isGreaterThan clock.Elapsed.TotalSeconds 1.0 "waited for the owner"
            Expect.exists messages (fun m -> m.Contains(sprintf "waiting for process %d" Environment.ProcessId)) "says whom it waits for"

        testCase "a checkpoint of other data is refused, naming both data identities" <| fun () ->
            use dir = new TempDir()
            let checkpoint = Path.Combine(dir.Path, "ckpt.bin")
            let dataA = SciFactFixture.trainingData 5L
            train dataA 1e-3 20 checkpoint Int32.MaxValue |> ignore
            let restricted = dataA.Train.Restrict(dataA.Train.QueryIds |> Seq.sort |> Seq.take 300)
            let dataB = TrainingData(dataA.Corpus, dataA.Queries, restricted, dataA.Validation, dataA.Seed)
            let e = throws<CheckpointMismatchException> (fun () -> train dataB 1e-3 20 checkpoint Int32.MaxValue |> ignore)
            let identity (d: TrainingData) = TrainingDataHash.Short(TrainingDataHash.Of d)
            Expect.stringContains e.Message (identity dataA) "the checkpoint's data"
            Expect.stringContains e.Message (identity dataB) "this run's data"
            Expect.notEqual (identity dataA) (identity dataB) "the identities differ"
            Expect.isTrue (File.Exists checkpoint) "the checkpoint is kept"

        testCase "a checkpoint of other settings is refused, naming the setting" <| fun () ->
            use dir = new TempDir()
            let checkpoint = Path.Combine(dir.Path, "ckpt.bin")
            let data = SciFactFixture.trainingData 6L
            train data 1e-3 20 checkpoint Int32.MaxValue |> ignore
            let e = throws<CheckpointMismatchException> (fun () -> train data 2e-3 20 checkpoint Int32.MaxValue |> ignore)
            Expect.stringContains e.Message "lr 0.001 vs 0.002" "names the differing setting"

        testCase "a loss that becomes NaN stops training with the step" <| fun () ->
            let e = throws<TrainingDivergedException> (fun () -> train (SciFactFixture.trainingData 7L) 1e-3 20 null 4 |> ignore)
            Expect.stringContains e.Message "at step 5" "names the step (1-based; the 5th step is index 4)"

        testCase "a method output with NaN is rejected when evaluated, naming the row's id" <| fun () ->
            let docs = EmbeddingMatrix([| "d1"; "d2" |], [| 1f; 0f; nanf; 1f |], 2)
            let queries = EmbeddingMatrix([| "q1" |], [| 1f; 0f |], 2)
            let qrels = Qrels(Collections.Generic.Dictionary(dict [ "q1", Collections.Generic.Dictionary(dict [ "d1", 1 ]) ]))
            let evaluator = RetrievalEvaluator(queries.Ids, docs.Ids, qrels, Smec.Core.Metrics.Measure.Parse "ndcg_cut.10")
            let e = throws<InvalidDataException> (fun () -> evaluator.Evaluate(queries, docs) |> ignore)
            Expect.stringContains e.Message "id 'd2'" "names the row"
    ]
