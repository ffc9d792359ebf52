/// Executes one notebook top to bottom in a fresh kernel and writes an executed copy with every
/// cell's outputs. Execution stops at the first failing cell (later cells usually depend on it);
/// the cells after it are reported as skipped and keep no outputs.
module Smec.NotebookRunner.NotebookExecution

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open Microsoft.DotNet.Interactive.Documents
open Microsoft.DotNet.Interactive.Documents.Jupyter
open Smec.NotebookRunner.KernelProtocol
open Smec.NotebookRunner.KernelSession

type CellStatus =
    | CellPassed
    | CellFailed of message: string
    | CellSkipped

type CellReport = { Index: int; FirstLine: string; Status: CellStatus; Seconds: float }

type NotebookReport =
    { Notebook: string
      ExecutedCopy: string
      Cells: CellReport list
      Charts: int
      ExecutedBytes: int64
      Elapsed: TimeSpan }
    member r.Count status = r.Cells |> List.filter (fun c -> status c.Status) |> List.length
    member r.Passed = r.Count(function CellPassed -> true | _ -> false)
    member r.Failed = r.Count(function CellFailed _ -> true | _ -> false)
    member r.Skipped = r.Count(function CellSkipped -> true | _ -> false)

/// The kernels a Polyglot notebook may name; fsharp is the default, markdown cells are not run.
let kernelInfos () =
    let infos = KernelInfoCollection()
    infos.Add(KernelInfo("fsharp", "F#", [| "f#"; "F#" |]))
    infos.Add(KernelInfo("csharp", "C#", [| "c#"; "C#" |]))
    infos.Add(KernelInfo("markdown", "Markdown", [| "md" |]))
    infos.DefaultKernelName <- "fsharp"
    infos

let private isExecutable (cell: InteractiveDocumentElement) =
    cell.KernelName <> "markdown" && not (String.IsNullOrWhiteSpace cell.Contents)

let private toData (pairs: (string * string) list) : IDictionary<string, obj> =
    let data = Dictionary<string, obj>()
    for mime, value in pairs do data[mime] <- box value
    data

/// Plotly.NET's chart HTML calls Plotly.newPlot; counting it lets the report say how many charts rendered.
let private chartsIn (outputs: seq<InteractiveDocumentOutputElement>) =
    let isChart (data: IDictionary<string, obj>) =
        match data.TryGetValue "text/html" with
        | true, (:? string as html) -> html.Contains "Plotly.newPlot"
        | _ -> false
    outputs
    |> Seq.filter (function
        | :? DisplayElement as d -> isChart d.Data
        | :? ReturnValueElement as r -> isChart r.Data
        | _ -> false)
    |> Seq.length

/// The notebook outputs a cell's events amount to: consecutive stream text merged (the kernel
/// sends `printfn` output in fragments), displays updated in place, the failure as an error output.
let outputsOf (executionOrder: int) (events: CellEvent list) (outcome: Outcome) : InteractiveDocumentOutputElement list =
    let outputs = ResizeArray<InteractiveDocumentOutputElement>()
    let displayIndex = Dictionary<string, int>()
    let appendText stream (text: string) =
        match Seq.tryLast outputs with
        | Some(:? TextElement as last) when last.Name = stream ->
            outputs[outputs.Count - 1] <- TextElement(last.Text + text, stream)
        | _ -> outputs.Add(TextElement(text, stream))
    for event in events do
        match event with
        | StandardOutput text -> appendText "stdout" text
        | StandardError text -> appendText "stderr" text
        | Displayed(id, data) ->
            id |> Option.iter (fun id -> displayIndex[id] <- outputs.Count)
            outputs.Add(DisplayElement(toData data))
        | DisplayUpdated(id, data) ->
            match displayIndex.TryGetValue id with
            | true, index -> outputs[index] <- DisplayElement(toData data)
            | _ -> outputs.Add(DisplayElement(toData data))
        | ReturnValue data ->
            let element = ReturnValueElement(ExecutionOrder = executionOrder)
            for mime, value in data do element.Data[mime] <- box value
            outputs.Add element
        | Succeeded | Failed _ -> ()
    match outcome with
    | FailedWith message ->
        let lines = message.Split('\n')
        outputs.Add(ErrorElement(errorValue = lines[0], errorName = "Error", stackTrace = lines))
    | Passed -> ()
    List.ofSeq outputs

let private firstLine (code: string) =
    code.Split('\n') |> Array.map (fun l -> l.Trim()) |> Array.tryFind (fun l -> l <> "") |> Option.defaultValue ""

/// Run every code cell of `notebookPath` in a new kernel started by `kernelAppDll`; write the
/// executed copy into `outputDir` (same file name).
let run (kernelAppDll: string) (cellTimeout: TimeSpan) (outputDir: string) (notebookPath: string) : NotebookReport =
    let clock = Stopwatch.StartNew()
    let infos = kernelInfos ()
    let document =
        use stream = File.OpenRead notebookPath
        Notebook.Read(stream, infos)
    let notebookDir = Path.GetDirectoryName(Path.GetFullPath notebookPath)
    let reports = ResizeArray<CellReport>()
    do
        use kernel = new Kernel(kernelAppDll, notebookDir)
        // The F# kernel sets itself up on its first submission; a no-op takes that cost too, so
        // cell timeouts and timings measure the cells.
        let startupTimeout = TimeSpan.FromMinutes 5.0
        let startup =
            match kernel.WaitUntilReady startupTimeout with
            | Passed -> snd (kernel.Submit("fsharp", "()", startupTimeout))
            | failed -> failed
        let mutable stopped = false
        let mutable executionOrder = 0
        document.Elements
        |> Seq.filter isExecutable
        |> Seq.iteri (fun index cell ->
            cell.Outputs.Clear()
            if stopped then
                cell.ExecutionOrder <- 0
                reports.Add { Index = index + 1; FirstLine = firstLine cell.Contents; Status = CellSkipped; Seconds = 0.0 }
            else
                executionOrder <- executionOrder + 1
                let kernelName = if String.IsNullOrEmpty cell.KernelName then "fsharp" else cell.KernelName
                let cellClock = Stopwatch.StartNew()
                let events, outcome =
                    match startup with
                    | Passed -> kernel.Submit(kernelName, cell.Contents, cellTimeout)
                    | failed -> [], failed
                cell.ExecutionOrder <- executionOrder
                cell.Outputs.AddRange(outputsOf executionOrder events outcome)
                let status =
                    match outcome with
                    | Passed -> CellPassed
                    | FailedWith message -> stopped <- true; CellFailed message
                reports.Add { Index = index + 1; FirstLine = firstLine cell.Contents; Status = status; Seconds = cellClock.Elapsed.TotalSeconds })
    Directory.CreateDirectory outputDir |> ignore
    let executedCopy = Path.Combine(outputDir, Path.GetFileName notebookPath)
    do
        use stream = File.Create executedCopy
        Notebook.Write(document, stream, infos)
    { Notebook = notebookPath
      ExecutedCopy = executedCopy
      Cells = List.ofSeq reports
      Charts = document.Elements |> Seq.sumBy (fun c -> chartsIn c.Outputs)
      ExecutedBytes = FileInfo(executedCopy).Length
      Elapsed = clock.Elapsed }
