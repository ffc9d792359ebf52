/// Correctness of the performance machinery (never timings): the PyTorch reference steps of `smec bench`
/// compute the same losses as the .NET steps, the OpenMP wait policy reaches the native environment,
/// the native heap keeps large blocks, and reproduce's timing breakdown adds up and is stored beside the report.
module Smec.Tests.PerformanceTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Smec.Core.Runtime
open Smec.Experiments.Cli
open Smec.Experiments.Running
open Smec.Experiments.Bench
open Smec.Tests.TestSupport

/// Debian's python3-torch (build/setup.sh installs it); its absence fails the test with the fix.
let private python = "/usr/bin/python3"

let private runReference (folder: string) (case: string) =
    match BenchCommand.torchMissing python with
    | Some why -> failwithf "the PyTorch reference needs Debian's python3-torch (%s: %s); run build/setup.sh" python why
    | None -> ()
    let script = Path.Combine(repoRoot, "bench", "torch", "steps.py")
    let psi = ProcessStartInfo(python, sprintf "\"%s\" check \"%s\" %s 1e-4" script folder case,
                               UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
    psi.Environment.["OPENBLAS_NUM_THREADS"] <- "1"
    use p = Process.Start psi
    let output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd()
    p.WaitForExit()
    p.ExitCode, output

[<Tests>]
let referenceSteps =
    testList "Performance/PyTorch reference steps" [
        for case in BenchSteps.cases do
          yield test (sprintf "%s: PyTorch gives the .NET step's losses (3 steps) to 1e-4" case) {
                use dir = new TempDir()
                let step = BenchSteps.build case 1L
                let losses = try BenchSteps.export step dir.Path 3 finally step.Dispose()
                Expect.isTrue (losses |> Array.forall Single.IsFinite) "finite .NET losses"
                Expect.isFalse (losses |> Array.pairwise |> Array.forall (fun (a, b) -> a = b)) "the optimizer moves the loss (the check covers the update)"
                let code, output = runReference dir.Path case
                Expect.equal code 0 (sprintf "reference check failed:\n%s" output)
            }
        for case in BenchEnsembleSteps.cases do
          yield test (sprintf "%s ensemble of 3: PyTorch's ensemble gives every member's losses (3 steps) to 1e-4, and each member's are its solo step's" case) {
                use dir = new TempDir()
                let ensemble = BenchEnsembleSteps.build case 3 1L
                let losses = try BenchEnsembleSteps.export ensemble dir.Path 3 finally ensemble.Dispose()
                for k in 0 .. 2 do
                    let step, dispose = BenchEnsembleSteps.solo case (1L + int64 k)
                    let alone = try Array.init 3 (fun _ -> step ()) finally dispose ()
                    for s in 0 .. 2 do
                        let together = losses.[s * 3 + k]
                        Expect.isLessThan (abs (together - alone.[s]) / abs alone.[s]) 1e-5f
                            (sprintf "member %d, step %d: %f in the ensemble vs %f alone" k s together alone.[s])
                let code, output = runReference dir.Path (case + "-ensemble")
                Expect.equal code 0 (sprintf "reference check failed:\n%s" output)
            }
        yield test "a perturbed .NET loss is caught by the check" {
            use dir = new TempDir()
            let step = BenchSteps.build "mrl" 1L
            let losses = try BenchSteps.export step dir.Path 2 finally step.Dispose()
            let shifted = losses |> Array.map (fun l -> l + 1e-3f)
            Smec.Core.Storage.Npy.WriteFloat32(Path.Combine(dir.Path, "dotnet_losses.npy"), ReadOnlySpan shifted, 1, shifted.Length)
            let code, output = runReference dir.Path "mrl"
            Expect.equal code 1 (sprintf "a 1e-3 difference must fail the check:\n%s" output)
        }
    ]

/// The variable as a child process started now (Process.Start, as workers are) sees it.
let private childValue (name: string) =
    let psi = ProcessStartInfo("/bin/sh", UseShellExecute = false, RedirectStandardOutput = true)
    for a in [ "-c"; sprintf "printf %%s \"$%s\"" name ] do psi.ArgumentList.Add a
    use p = Process.Start psi
    let seen = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    seen

[<Tests>]
let openMp =
    testList "Performance/OpenMP wait policy" [
        test "the policy is in libc's environment (what libgomp reads) and in .NET's (what children inherit)" {
            let struct (policy, fromUser) = OpenMpEnvironment.WaitPolicy
            Expect.equal (OpenMpEnvironment.NativeValue OpenMpEnvironment.WaitPolicyVariable) policy "native environment"
            Expect.equal (Environment.GetEnvironmentVariable OpenMpEnvironment.WaitPolicyVariable) policy ".NET environment"
            if not fromUser then Expect.equal policy OpenMpEnvironment.DefaultWaitPolicy "the program's default"
        }
        test "a child process inherits the policy" {
            let struct (policy, _) = OpenMpEnvironment.WaitPolicy
            Expect.equal (childValue OpenMpEnvironment.WaitPolicyVariable) policy "child's OMP_WAIT_POLICY"
        }
    ]

/// Python (Debian's, as the bench's reference side) allocating a 64 MiB block on a thread other than the
/// main one, writing every page and freeing it, 5 times after a first round: prints the thread's new page faults.
let private blockFaultsScript = """
import ctypes, resource, threading
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 64 << 20
def touch():
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
def measure(out):
    touch()
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(5): touch()
    out.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
out = []
thread = threading.Thread(target=measure, args=(out,))
thread.start(); thread.join()
print(out[0])
"""

/// The script's page faults in a child process with or without the GLIBC_TUNABLES this process passes on.
let private childBlockFaults (inheritSetting: bool) =
    let psi = ProcessStartInfo(python, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in [ "-c"; blockFaultsScript ] do psi.ArgumentList.Add a
    if not inheritSetting then psi.Environment.Remove NativeHeap.TunablesVariable |> ignore
    use p = Process.Start psi
    let output, errors = p.StandardOutput.ReadToEnd(), p.StandardError.ReadToEnd()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 (sprintf "the page-fault script: %s" errors)
    int64 (output.Trim())

[<Tests>]
let nativeHeap =
    testList "Performance/native heap" [
        test "children start with the program's GLIBC_TUNABLES" {
            if not (OperatingSystem.IsLinux()) then skiptest "glibc malloc settings are set on Linux only"
            if not NativeHeap.SetByProgram then skiptest (sprintf "the environment sets the heap: %s" (NativeHeap.Describe()))
            Expect.stringEnds (childValue NativeHeap.TunablesVariable) NativeHeap.Tunables "child's GLIBC_TUNABLES"
        }
        test "with it a 64 MiB block freed and made again faults in no new pages; without it (glibc's default) every page faults each time" {
            if not (OperatingSystem.IsLinux()) then skiptest "glibc malloc settings are set on Linux only"
            if not NativeHeap.SetByProgram then skiptest (sprintf "the environment sets the heap: %s" (NativeHeap.Describe()))
            let pages, rounds = 64L * 256L, 5L
            let kept = childBlockFaults true
            let mapped = childBlockFaults false
            Expect.isLessThan kept (pages / 10L) (sprintf "%d rounds of a %d-page block with the program's heap setting: %d new page faults" rounds pages kept)
            Expect.isGreaterThan mapped (pages * rounds / 2L) (sprintf "the same rounds under glibc's default: %d page faults (the measurement must see them)" mapped)
        }
    ]

[<Tests>]
let timing =
    testList "Performance/timing breakdown" [
        test "phases accumulate by name, the rows add up to the total, and store writes timing.json and the report section" {
            Timing.reset ()
            for phase in [ "fit: a"; "evaluation"; "fit: a" ] do Timing.time phase (fun () -> Threading.Thread.Sleep 20)
            let b = Timing.snapshot ()
            Expect.equal (b.Phases |> List.map (fun p -> p.Name, p.Count)) [ "fit: a", 2; "evaluation", 1 ] "phases in first-seen order with counts"
            Expect.isGreaterThanOrEqual (b.Phases.Head.Seconds) 0.04 "two 20 ms fits"
            let rows = Timing.rows b
            let total = rows |> List.last
            let parts = rows |> List.take (rows.Length - 1) |> List.sumBy (fun (_, s, _) -> s)
            Expect.floatClose Accuracy.high (let _, s, _ = total in s) parts "total = sum of rows"
            use dir = new TempDir()
            File.WriteAllText(Path.Combine(dir.Path, "report.md"), "# report\n")
            Timing.store dir.Path b
            let json = File.ReadAllText(Path.Combine(dir.Path, "timing.json"))
            Expect.stringContains json "\"fit: a\"" "timing.json names the phase"
            Expect.stringContains (File.ReadAllText(Path.Combine(dir.Path, "report.md"))) "## Where the time went" "report section"
            Timing.reset ()
        }
    ]
