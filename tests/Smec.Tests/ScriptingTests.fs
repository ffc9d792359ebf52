/// The scripting entry point (Smec.fsx): without a build it must say what to do. And the example
/// that extends the harness from a script: one registry entry gives a method a catalog row, a
/// saved model and `smec compress` on it.
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

        testCase "examples/custom-method.fsx: one registry entry gives a catalog row, a saved model and smec compress on it" <| fun () ->
            let exitCode, output = runFsi repoRoot "examples/custom-method.fsx"
            Expect.equal exitCode 0 $"exit code (output: {output})"
            Expect.stringContains output "random projection" "the method's row in the catalog table"
            // CompressCommand's own report of what it wrote, then the example's check of the numbers.
            Expect.stringContains output " x 48 with RandomProjection" "smec compress loaded the saved model through the entry"
            Expect.stringContains output "equal to the fitted model's output" "the compressed file equals the fitted model's output"
    ]
