/// The one progress bar: short logs, a redrawn terminal line, nothing when off, and a clear error
/// for a bad SMEC_PROGRESS.
module Smec.Tests.ProgressBarTests

open System
open System.IO
open Expecto
open Smec.Core.Runtime

let private lines (writer: StringWriter) = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)

[<Tests>]
let tests =
    testList "Progress bar" [
        testCase "log output writes at most one line per 10% and a closing summary" <| fun () ->
            use writer = new StringWriter()
            let bar = ProgressBar("encode", 1000, writer, ProgressOutput.Lines)
            for i in 1 .. 1000 do bar.Report(i, sprintf "loss %d" i, milestone = (i % 10 = 0))
            bar.Finish "done"
            let written = lines writer
            Expect.isLessThanOrEqual written.Length 12 "no flooding, even with a milestone every 10 steps"
            Expect.isGreaterThanOrEqual written.Length 10 "but every decile is shown"
            Expect.stringContains written.[written.Length - 2] "1000/1000" "completion is reported"
            Expect.stringContains written.[written.Length - 2] "/s" "with a rate"
            Expect.stringStarts written.[written.Length - 1] "encode done" "then the summary"

        testCase "terminal output redraws one line in place" <| fun () ->
            use writer = new StringWriter()
            let bar = ProgressBar("train", 50, writer, ProgressOutput.Terminal)
            for i in 1 .. 50 do bar.Report i
            bar.Finish "done"
            let text = writer.ToString()
            Expect.equal (text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length) 1 "one line, ended once by the summary"
            Expect.stringContains text "\r" "redrawn with carriage returns"

        testCase "off (or disabled) writes nothing" <| fun () ->
            use writer = new StringWriter()
            let off = ProgressBar("a", 10, writer, ProgressOutput.Off)
            let disabled = ProgressBar("b", 10, writer, ProgressOutput.Lines, enabled = false)
            for i in 1 .. 10 do off.Report i; disabled.Report i
            off.Finish "x"; disabled.Finish "y"
            Expect.equal (writer.ToString()) "" "silent"

        testCase "outside a notebook kernel a notebook bar shows nothing rather than printing lines" <| fun () ->
            use writer = new StringWriter()
            let bar = ProgressBar("fit", 100, writer, ProgressOutput.Notebook)
            for i in 1 .. 100 do bar.Report i
            bar.Finish "done"
            Expect.equal (writer.ToString()) "" "no text lines from a notebook bar"

        testCase "SMEC_PROGRESS chooses the output under Auto and a bad value is named" <| fun () ->
            let before = Environment.GetEnvironmentVariable ProgressBar.Variable
            try
                Environment.SetEnvironmentVariable(ProgressBar.Variable, "off")
                Expect.equal (ProgressBar.Resolve ProgressOutput.Auto) ProgressOutput.Off "off from the environment"
                Expect.equal (ProgressBar.Resolve ProgressOutput.Lines) ProgressOutput.Lines "an explicit choice wins"
                Environment.SetEnvironmentVariable(ProgressBar.Variable, "sometimes")
                match (try ProgressBar.Resolve ProgressOutput.Auto |> ignore; None with :? ArgumentException as e -> Some e.Message) with
                | Some message -> Expect.stringContains message "SMEC_PROGRESS='sometimes'" "names the variable and value"
                | None -> failtest "a bad SMEC_PROGRESS was accepted"
            finally
                Environment.SetEnvironmentVariable(ProgressBar.Variable, before)
    ]
