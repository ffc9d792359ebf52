/// The headless notebook runner (tools/NotebookRunner): protocol parsing, outputs, and the
/// deliberately broken fixture notebook that must make it fail.
module Smec.Tests.NotebookRunnerTests

open System.IO
open System.Text.Json
open Expecto
open Smec.Tests.TestSupport
open Smec.NotebookRunner
open Smec.NotebookRunner.KernelProtocol

let private event token eventType (payload: string) =
    $"""{{"event":{payload},"eventType":"{eventType}","command":{{"token":"{token}","commandType":"SubmitCode"}}}}"""

let private stdoutEvent token text =
    event token "StandardOutputValueProduced" $"""{{"formattedValues":[{{"mimeType":"text/plain","value":"{text}","suppressDisplay":false}}],"valueId":null}}"""

[<Tests>]
let tests =
    testList "NotebookRunner" [
        testCase "events of the cell and of the commands it spawned count; others and banners do not" <| fun () ->
            Expect.equal (tryParseEvent "smec-cell-1" (stdoutEvent "smec-cell-1" "a")) (Some(StandardOutput "a")) "own event"
            Expect.equal (tryParseEvent "smec-cell-1" (stdoutEvent "smec-cell-1.2" "b")) (Some(StandardOutput "b")) "child command's event"
            Expect.equal (tryParseEvent "smec-cell-1" (stdoutEvent "smec-cell-11" "c")) None "a different cell whose token shares the prefix"
            Expect.equal (tryParseEvent "smec-cell-1" "Welcome to .NET Interactive!") None "banner line"
            Expect.equal (tryParseEvent "smec-cell-1" "{not json") None "broken line"

        testCase "only the cell's own CommandSucceeded/CommandFailed ends it" <| fun () ->
            let failed = event "smec-cell-3" "CommandFailed" """{"message":"System.Exception: boom"}"""
            Expect.equal (tryParseEvent "smec-cell-3" failed) (Some(Failed "System.Exception: boom")) "own failure"
            let childFailed = event "smec-cell-3.1" "CommandFailed" """{"message":"x"}"""
            Expect.equal (tryParseEvent "smec-cell-3" childFailed) None "a child's failure is reported again by the parent"
            let succeeded = event "smec-cell-3" "CommandSucceeded" """{"executionOrder":0}"""
            Expect.equal (tryParseEvent "smec-cell-3" succeeded) (Some Succeeded) "own success"

        testCase "the submit envelope round-trips code with quotes and newlines" <| fun () ->
            let code = "printfn \"%d\" 1\nlet x = \"a\\b\""
            use doc = JsonDocument.Parse(submitCode "t" "fsharp" code)
            Expect.equal (doc.RootElement.GetProperty("commandType").GetString()) "SubmitCode" "command type"
            Expect.equal (doc.RootElement.GetProperty("command").GetProperty("code").GetString()) code "code"

        testCase "stdout fragments merge into one stream output and a failure becomes an error output" <| fun () ->
            let events = [ StandardOutput "answer"; StandardOutput " = 42\n"; StandardError "warn\n"; StandardOutput "x\n" ]
            let outputs = NotebookExecution.outputsOf 1 events (KernelSession.FailedWith "System.Exception: boom\n   at f()")
            let described =
                outputs |> List.map (function
                    | :? Microsoft.DotNet.Interactive.Documents.TextElement as t -> $"{t.Name}:{t.Text}"
                    | :? Microsoft.DotNet.Interactive.Documents.ErrorElement as e -> $"error:{e.ErrorName}:{e.ErrorValue}"
                    | other -> other.GetType().Name)
            Expect.equal described [ "stdout:answer = 42\n"; "stderr:warn\n"; "stdout:x\n"; "error:Error:System.Exception: boom" ] "outputs"

        testCase "a display updated later keeps its place with the new value" <| fun () ->
            let events = [ Displayed(Some "p", [ "text/plain", "0%" ]); StandardOutput "log\n"; DisplayUpdated("p", [ "text/plain", "100%" ]) ]
            match NotebookExecution.outputsOf 1 events KernelSession.Passed with
            | [ :? Microsoft.DotNet.Interactive.Documents.DisplayElement as d; _ ] ->
                Expect.equal (string d.Data["text/plain"]) "100%" "updated in place"
            | other -> failtestf "unexpected outputs %A" other

        // Starts a real kernel (about 30 s): the acceptance check that a broken notebook fails CI.
        testCase "the broken fixture notebook fails at its broken cell, skips the rest and exits non-zero" <| fun () ->
            use outDir = new TempDir()
            let fixture = Path.Combine(repoRoot, "tests", "fixtures", "broken.ipynb")
            use report = new StringWriter()
            let exitCode = Program.run report [ fixture; "--out"; outDir.Path ]
            let lines = report.ToString().Split('\n') |> Array.map (fun l -> l.TrimEnd()) |> Array.filter (fun l -> l <> "")
            Expect.equal exitCode 1 $"exit code (report:\n{report})"
            Expect.equal (Array.last lines) "1 passed, 1 failed, 1 skipped" "the count line CI reads comes last"
            Expect.exists lines (fun l -> l.Contains "cell 2 FAILED") "the failing cell is named"
            use executed = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir.Path, "broken.ipynb")))
            let codeCells =
                executed.RootElement.GetProperty("cells").EnumerateArray()
                |> Seq.filter (fun c -> c.GetProperty("cell_type").GetString() = "code")
                |> Array.ofSeq
            let outputs (cell: JsonElement) = cell.GetProperty("outputs").EnumerateArray() |> Array.ofSeq
            let outputType (o: JsonElement) = o.GetProperty("output_type").GetString()
            Expect.stringContains (codeCells[0].GetProperty("outputs").GetRawText()) "answer = 42" "the first cell's output is written back"
            match outputs codeCells[1] |> Array.tryFind (fun o -> outputType o = "error") with
            | Some error -> Expect.stringContains (error.GetProperty("evalue").GetString()) "broken on purpose" "the exception's message"
            | None -> failtest "the broken cell carries no error output"
            Expect.equal (codeCells[2].GetProperty("outputs").GetArrayLength()) 0 "the skipped cell has no outputs"
    ]
