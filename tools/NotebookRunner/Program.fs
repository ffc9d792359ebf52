/// `notebook-runner [--out DIR] [--cell-timeout SECONDS] NOTEBOOK-OR-FOLDER...`
/// Executes each notebook headless in its own kernel, writes executed copies (default
/// results/notebooks/), prints `N passed, N failed, N skipped` cells per notebook and, last, the
/// total line CI counts. Exit code 0 when every cell passed, 1 when any failed, 2 on bad usage.
module Smec.NotebookRunner.Program

open System
open System.IO
open Smec.NotebookRunner.NotebookExecution

type Options =
    { Notebooks: string list
      OutputDir: string option
      CellTimeout: TimeSpan }

let usage = "usage: notebook-runner [--out DIR] [--cell-timeout SECONDS] NOTEBOOK.ipynb|FOLDER ..."

let rec private parse (options: Options) (args: string list) : Result<Options, string> =
    match args with
    | [] when options.Notebooks.IsEmpty -> Error "no notebook given"
    | [] -> Ok { options with Notebooks = List.rev options.Notebooks }
    | "--out" :: dir :: rest -> parse { options with OutputDir = Some dir } rest
    | "--cell-timeout" :: seconds :: rest ->
        match Double.TryParse(seconds, Globalization.CultureInfo.InvariantCulture) with
        | true, s when s > 0.0 -> parse { options with CellTimeout = TimeSpan.FromSeconds s } rest
        | _ -> Error $"--cell-timeout expects a positive number of seconds, got '{seconds}'"
    | flag :: _ when flag.StartsWith "--" -> Error $"unknown option '{flag}'"
    | path :: rest when Directory.Exists path ->
        let found = Directory.GetFiles(path, "*.ipynb") |> Array.sort |> Array.rev |> List.ofArray
        if found.IsEmpty then Error $"{path}: no .ipynb files in this folder"
        else parse { options with Notebooks = found @ options.Notebooks } rest
    | path :: rest when File.Exists path -> parse { options with Notebooks = path :: options.Notebooks } rest
    | path :: _ -> Error $"{path}: no such notebook or folder"

let parseArgs (argv: string list) =
    parse { Notebooks = []; OutputDir = None; CellTimeout = TimeSpan.FromMinutes 10.0 } argv

let private describe (report: NotebookReport) =
    let size = float report.ExecutedBytes / 1024.0 / 1024.0
    let slowest =
        match report.Cells |> List.sortByDescending (fun c -> c.Seconds) with
        | cell :: _ when cell.Seconds > 0.0 -> $" (slowest: cell {cell.Index}, {cell.Seconds:F1} s)"
        | _ -> ""
    $"{report.Notebook}: {report.Passed} passed, {report.Failed} failed, {report.Skipped} skipped cells " +
    $"in {report.Elapsed.TotalSeconds:F1} s{slowest}; {report.Charts} chart(s); executed copy {report.ExecutedCopy} ({size:F1} MB)"

/// Run the notebooks, writing the report to `out`; returns the exit code.
let run (out: TextWriter) (argv: string list) : int =
    match parseArgs argv with
    | Error message ->
        out.WriteLine $"notebook-runner: {message}\n{usage}"
        2
    | Ok options ->
        let names = options.Notebooks |> List.map Path.GetFileName
        match names |> List.countBy id |> List.filter (fun (_, n) -> n > 1) with
        | (name, _) :: _ ->
            out.WriteLine $"notebook-runner: two notebooks are named {name}; their executed copies would collide"
            2
        | [] ->
            let root = KernelInstall.findManifestRoot (Directory.GetCurrentDirectory())
            let outputDir = options.OutputDir |> Option.defaultValue (Path.Combine(root, "results", "notebooks"))
            let kernel = KernelInstall.ensureKernel root out.WriteLine
            let reports =
                [ for notebook in options.Notebooks do
                      out.WriteLine $"running {notebook} ..."
                      out.Flush()
                      let report = NotebookExecution.run kernel options.CellTimeout outputDir notebook
                      for cell in report.Cells do
                          match cell.Status with
                          | CellFailed message ->
                              out.WriteLine $"  cell {cell.Index} FAILED ({cell.FirstLine}):"
                              for line in message.Split('\n') |> Array.truncate 25 do
                                  out.WriteLine $"    {line.TrimEnd()}"
                          | _ -> ()
                      out.WriteLine(describe report)
                      out.Flush()
                      yield report ]
            let sum (f: NotebookReport -> int) = reports |> List.sumBy f
            out.WriteLine $"{sum (fun r -> r.Passed)} passed, {sum (fun r -> r.Failed)} failed, {sum (fun r -> r.Skipped)} skipped"
            out.Flush()
            if sum (fun r -> r.Failed) = 0 then 0 else 1

[<EntryPoint>]
let main argv =
    // The raw stream, so the last line is exactly the count (no console decoration).
    use out = new StreamWriter(Console.OpenStandardOutput())
    try run out (List.ofArray argv)
    with e ->
        out.WriteLine $"notebook-runner: {e.Message}"
        out.WriteLine "0 passed, 1 failed, 0 skipped"
        2
