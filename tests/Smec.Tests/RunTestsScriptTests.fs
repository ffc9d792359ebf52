/// build/run-tests.sh, the script `make test` runs: its last line (the one CI counts) counts the
/// tests only, notebook cells and examples get lines of their own, and a failing notebook, example
/// or test program still fails the run. The script runs for real against stand-in stages (a fake
/// `dotnet` first on PATH and a fake examples script), so each outcome can be forced.
module Smec.Tests.RunTestsScriptTests

open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open Smec.Tests.TestSupport

/// What each stand-in stage prints last and exits with (None: no count line at all).
type private Stage = { Count: string option; Exit: int }

let private ok count = { Count = Some count; Exit = 0 }

/// A stage as a shell snippet: some output of its own, then its count line, then its exit code.
let private stageScript (name: string) (stage: Stage) =
    let count = stage.Count |> Option.map (sprintf "echo '%s'") |> Option.defaultValue ":"
    sprintf "echo '%s output'; %s; exit %d" name count stage.Exit

/// Run a copy of build/run-tests.sh in a scratch tree whose stages are the given stand-ins.
let private runScript (tests: Stage) (notebooks: Stage) (examples: Stage) =
    use dir = new TempDir()
    let write (relative: string) (text: string) =
        let path = Path.Combine(dir.Path, relative)
        Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
        File.WriteAllText(path, text)
        path
    write "build/run-tests.sh" (File.ReadAllText(Path.Combine(repoRoot, "build", "run-tests.sh"))) |> ignore
    write "scripts/run-examples.sh" (stageScript "examples" examples + "\n") |> ignore
    let fakeDotnet =
        write "fakebin/dotnet"
            (sprintf "#!/usr/bin/env bash\ncase \"$1\" in\n  *Smec.Tests.dll) %s;;\n  *notebook-runner.dll) %s;;\n  *) echo \"unexpected: $*\" >&2; exit 99;;\nesac\n"
                (stageScript "tests" tests) (stageScript "notebooks" notebooks))
    File.SetUnixFileMode(fakeDotnet, UnixFileMode.UserRead ||| UnixFileMode.UserWrite ||| UnixFileMode.UserExecute)
    let psi = ProcessStartInfo("bash", UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
    psi.ArgumentList.Add(Path.Combine(dir.Path, "build", "run-tests.sh"))
    psi.Environment["PATH"] <- Path.Combine(dir.Path, "fakebin") + ":" + psi.Environment["PATH"]
    use proc = Process.Start psi
    let err = proc.StandardError.ReadToEndAsync()
    let out = proc.StandardOutput.ReadToEnd()
    proc.WaitForExit()
    let lines = out.Split('\n') |> Array.map (fun l -> l.TrimEnd()) |> Array.filter ((<>) "") |> List.ofArray
    proc.ExitCode, lines, err.Result

/// Lines CI would take for the count (`.ci/run` keeps the last of them).
let private countLines (lines: string list) = lines |> List.filter (fun l -> Regex.IsMatch(l, @"^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$"))

[<Tests>]
let tests =
    testList "RunTestsScript" [
        testCase "all stages pass: exit 0, the CI line counts the tests alone, cells and examples on lines of their own" <| fun () ->
            let code, lines, err = runScript (ok "10 passed, 0 failed, 1 skipped") (ok "7 passed, 0 failed, 0 skipped") (ok "3 passed, 0 failed, 0 skipped")
            Expect.equal code 0 (sprintf "exit 0\n%A\n%s" lines err)
            Expect.equal (List.last lines) "10 passed, 0 failed, 1 skipped" "the last line is the tests' count, without cells or examples"
            Expect.equal (countLines lines) [ "10 passed, 0 failed, 1 skipped" ] "no other line looks like a count to CI"
            Expect.contains lines "notebooks (notebooks/*.ipynb): 7 cells ran without error, 0 failed, 0 skipped (checked only not to throw; not counted as tests)" "the cells' own line"
            Expect.contains lines "examples (examples/*.fsx): 3 examples ran without error, 0 failed, 0 skipped (checked only not to throw; not counted as tests)" "the examples' own line"
            Expect.contains lines "notebooks output" "a stage's output is shown"

        testCase "a failing notebook cell fails the run: exit non-zero, one failure on the CI line" <| fun () ->
            let code, lines, _ = runScript (ok "10 passed, 0 failed, 0 skipped") { Count = Some "4 passed, 1 failed, 2 skipped"; Exit = 1 } (ok "3 passed, 0 failed, 0 skipped")
            Expect.notEqual code 0 "non-zero exit"
            Expect.equal (List.last lines) "10 passed, 1 failed, 0 skipped" "the tests, plus the failed notebook stage as one failure"
            Expect.isTrue (lines |> List.exists (fun l -> l.StartsWith "notebooks (notebooks/*.ipynb): 4 cells" && l.Contains "FAILED (exit 1)")) (sprintf "the notebook line says it failed\n%A" lines)

        testCase "an examples stage that crashes without a count fails the run" <| fun () ->
            let code, lines, _ = runScript (ok "10 passed, 0 failed, 0 skipped") (ok "7 passed, 0 failed, 0 skipped") { Count = None; Exit = 134 }
            Expect.notEqual code 0 "non-zero exit"
            Expect.equal (List.last lines) "10 passed, 1 failed, 0 skipped" "one failure for the crashed stage"
            Expect.contains lines "examples (examples/*.fsx): no count printed (exit 134); counted as 1 failure" "says why"

        testCase "a failing test fails the run; a test program that crashes without a count is one failure" <| fun () ->
            let code, lines, _ = runScript { Count = Some "9 passed, 1 failed, 0 skipped"; Exit = 1 } (ok "7 passed, 0 failed, 0 skipped") (ok "3 passed, 0 failed, 0 skipped")
            Expect.notEqual code 0 "non-zero exit"
            Expect.equal (List.last lines) "9 passed, 1 failed, 0 skipped" "the tests' own count"
            let code, lines, _ = runScript { Count = None; Exit = 134 } (ok "7 passed, 0 failed, 0 skipped") (ok "3 passed, 0 failed, 0 skipped")
            Expect.notEqual code 0 "non-zero exit"
            Expect.equal (List.last lines) "0 passed, 1 failed, 0 skipped" "a crash is never read as success"
            let code, lines, _ = runScript { Count = Some "10 passed, 0 failed, 0 skipped"; Exit = 3 } (ok "7 passed, 0 failed, 0 skipped") (ok "3 passed, 0 failed, 0 skipped")
            Expect.notEqual code 0 "non-zero exit"
            Expect.equal (List.last lines) "10 passed, 1 failed, 0 skipped" "a non-zero exit with no failed test is one failure"
    ]
