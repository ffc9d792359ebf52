/// The scripting entry point (Smec.fsx): without a build it must say what to do.
module Smec.Tests.ScriptingTests

open System.Diagnostics
open System.IO
open Expecto
open Smec.Tests.TestSupport

let private runFsi (workingDir: string) (script: string) =
    let psi = ProcessStartInfo("dotnet", UseShellExecute = false, RedirectStandardOutput = true,
                               RedirectStandardError = true, WorkingDirectory = workingDir)
    for arg in [ "fsi"; script ] do psi.ArgumentList.Add arg
    use proc = Process.Start psi
    let stdout = proc.StandardOutput.ReadToEndAsync()
    let stderr = proc.StandardError.ReadToEnd()
    proc.WaitForExit()
    proc.ExitCode, stdout.Result + stderr

[<Tests>]
let tests =
    testList "Scripting" [
        // A copy of Smec.fsx in an empty folder sees no Smec.Experiments/bin: exactly a checkout
        // that was never built. (#load-ed, F# itself stops at the first missing #r instead.)
        testCase "Smec.fsx run without a build exits 2 and says to run make build" <| fun () ->
            use dir = new TempDir()
            File.Copy(Path.Combine(repoRoot, "Smec.fsx"), Path.Combine(dir.Path, "Smec.fsx"))
            let exitCode, output = runFsi dir.Path "Smec.fsx"
            Expect.equal exitCode 2 $"exit code (output: {output})"
            Expect.stringContains output "the harness is not built" "names the problem"
            Expect.stringContains output "Run `make build`" "names the fix"
    ]
