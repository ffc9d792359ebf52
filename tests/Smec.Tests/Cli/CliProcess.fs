/// Run the built `smec` as a child process (`dotnet smec.dll ...`), the way a user does: its exit
/// code, stdout and stderr. The dll is the one built beside the tests (the project references it).
module Smec.Tests.Cli.CliProcess

open System
open System.Diagnostics
open System.IO
open Smec.Tests.TestSupport

let smecDll = Path.Combine(AppContext.BaseDirectory, "smec.dll")

type Finished = { Code: int; Out: string; Err: string }

/// Start smec with the given arguments and extra environment (torch kept to one passive thread).
let start (env: (string * string) list) (args: string list) =
    let psi = ProcessStartInfo("dotnet", UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
                               WorkingDirectory = repoRoot)
    psi.ArgumentList.Add smecDll
    for a in args do psi.ArgumentList.Add a
    psi.Environment["OMP_WAIT_POLICY"] <- "PASSIVE"
    psi.Environment["SMEC_THREADS"] <- "1"
    psi.Environment.Remove "SMEC_VERBOSE" |> ignore
    psi.Environment.Remove "SMEC_EMBEDDINGS" |> ignore
    for k, v in env do psi.Environment[k] <- v
    Process.Start psi

/// Start smec and collect its stderr lines as they arrive (stdout is drained and dropped): for a
/// test that acts on what the process reports while it runs. Returns the process and a snapshot
/// function of the lines so far.
let startWatched (env: (string * string) list) (args: string list) =
    let proc = start env args
    let lines = Collections.Concurrent.ConcurrentQueue<string>()
    proc.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then lines.Enqueue e.Data)
    proc.OutputDataReceived.Add ignore
    proc.BeginErrorReadLine()
    proc.BeginOutputReadLine()
    proc, (fun () -> List.ofSeq lines)

/// Run to the end (at most `timeoutSeconds`).
let runWith (env: (string * string) list) (timeoutSeconds: int) (args: string list) =
    use proc = start env args
    let out = proc.StandardOutput.ReadToEndAsync()
    let err = proc.StandardError.ReadToEndAsync()
    if not (proc.WaitForExit(timeoutSeconds * 1000)) then
        proc.Kill true
        failwithf "smec %s did not finish within %d s" (String.Join(" ", args)) timeoutSeconds
    proc.WaitForExit()
    { Code = proc.ExitCode; Out = out.Result; Err = err.Result }

let run (args: string list) = runWith [] 120 args

/// kill -9 (SIGKILL: no handler runs, nothing is flushed or cleaned up).
let kill9 (proc: Process) =
    use killer = Process.Start("kill", [| "-9"; string proc.Id |])
    killer.WaitForExit()
    proc.WaitForExit()

/// Wait until `condition` holds (polling), at most `seconds`.
let waitUntil (seconds: float) (condition: unit -> bool) =
    let clock = Stopwatch.StartNew()
    while not (condition ()) && clock.Elapsed.TotalSeconds < seconds do Threading.Thread.Sleep 100
    condition ()

/// Every file under a folder (relative paths), for "nothing was written" checks.
let filesUnder (folder: string) =
    if Directory.Exists folder then
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories) |> Seq.map (fun f -> Path.GetRelativePath(folder, f)) |> Seq.sort |> List.ofSeq
    else []
