/// One headless dotnet-interactive kernel process (`stdio` mode): submit a cell, collect its
/// events until the kernel says it succeeded or failed.
module Smec.NotebookRunner.KernelSession

open System
open System.Collections.Concurrent
open System.Diagnostics
open System.Text
open Smec.NotebookRunner.KernelProtocol

/// How a submission ended.
type Outcome =
    | Passed
    | FailedWith of message: string

/// A running kernel whose working directory is `workingDir` (the notebook's folder, as in VS Code,
/// so relative `#load` paths mean the same thing headless and interactive).
type Kernel(appDll: string, workingDir: string) =
    let psi =
        ProcessStartInfo("dotnet",
                         UseShellExecute = false,
                         RedirectStandardInput = true,
                         RedirectStandardOutput = true,
                         RedirectStandardError = true,
                         WorkingDirectory = workingDir,
                         StandardOutputEncoding = UTF8Encoding(false),
                         StandardErrorEncoding = UTF8Encoding(false))
    do
        for arg in [ appDll; "stdio"; "--default-kernel"; "fsharp"; "--working-dir"; workingDir ] do
            psi.ArgumentList.Add arg
        // No telemetry and no first-run banner: the run must not try the network.
        psi.Environment["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] <- "1"
        psi.Environment["DOTNET_INTERACTIVE_SKIP_FIRST_TIME_EXPERIENCE"] <- "1"
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] <- "1"

    let lines = new BlockingCollection<string>()
    let stderrTail = StringBuilder()
    let proc = new Process(StartInfo = psi, EnableRaisingEvents = true)
    do
        proc.OutputDataReceived.Add(fun e -> if isNull e.Data then lines.CompleteAdding() else lines.Add e.Data)
        proc.ErrorDataReceived.Add(fun e ->
            if not (isNull e.Data) then
                lock stderrTail (fun () ->
                    stderrTail.AppendLine e.Data |> ignore
                    if stderrTail.Length > 8000 then stderrTail.Remove(0, stderrTail.Length - 8000) |> ignore))
        proc.Start() |> ignore
        proc.BeginOutputReadLine()
        proc.BeginErrorReadLine()

    let mutable submissions = 0

    let kernelGone () =
        // stdout closes a moment before the process is reaped.
        let code = if proc.WaitForExit 2000 then string proc.ExitCode else "unknown"
        let tail = lock stderrTail (fun () -> stderrTail.ToString().Trim())
        $"the kernel process exited (code {code}) before the cell finished" +
        (if tail = "" then "" else $"; its stderr ends with:\n{tail}")

    /// Wait until the kernel has started, so that its start-up time (tens of seconds on a busy
    /// machine) does not count against the first cell's timeout.
    member _.WaitUntilReady(timeout: TimeSpan) : Outcome =
        let clock = Stopwatch.StartNew()
        let rec wait () =
            let remaining = timeout - clock.Elapsed
            if remaining <= TimeSpan.Zero then FailedWith $"the kernel did not start within {timeout.TotalSeconds:F0} s"
            else
                let mutable line = null
                if lines.TryTake(&line, int remaining.TotalMilliseconds) then
                    if isKernelReady line then Passed else wait ()
                elif lines.IsCompleted then FailedWith(kernelGone ())
                else wait ()
        wait ()

    /// Run `code` in the kernel named `kernelName`; gives up after `timeout`.
    member _.Submit(kernelName: string, code: string, timeout: TimeSpan) : CellEvent list * Outcome =
        submissions <- submissions + 1
        let token = $"smec-cell-{submissions}"
        proc.StandardInput.WriteLine(submitCode token kernelName code)
        proc.StandardInput.Flush()
        let deadline = Stopwatch.StartNew()
        let events = ResizeArray<CellEvent>()
        let rec collect () =
            let remaining = timeout - deadline.Elapsed
            if remaining <= TimeSpan.Zero then
                FailedWith $"the cell did not finish within {timeout.TotalSeconds:F0} s (raise it with --cell-timeout)"
            else
                let mutable line = null
                let taken = lines.TryTake(&line, int (min remaining.TotalMilliseconds (float Int32.MaxValue)))
                if not taken then
                    if lines.IsCompleted then FailedWith(kernelGone ()) else collect ()
                else
                    match tryParseEvent token line with
                    | Some Succeeded -> Passed
                    | Some(Failed message) -> FailedWith message
                    | Some event -> events.Add event; collect ()
                    | None -> collect ()
        let outcome =
            try collect ()
            with :? InvalidOperationException when lines.IsCompleted -> FailedWith(kernelGone ())
        List.ofSeq events, outcome

    interface IDisposable with
        member _.Dispose() =
            try
                if not proc.HasExited then
                    proc.StandardInput.Close()
                    if not (proc.WaitForExit 5000) then proc.Kill(entireProcessTree = true)
                    proc.WaitForExit()
            with _ -> ()
            proc.Dispose()
            lines.Dispose()
