/// Where a `smec reproduce` run spends its time: named phases (data loading and encoding, each
/// method's fit, evaluation, reports) summed over the run, printed at the end and stored beside the
/// report (timing.json and a section of report.md). Wall-clock seconds; the process is single-run,
/// so one process-wide collector is enough.
module Smec.Experiments.Running.Timing

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.Text
open System.Text.Json

type Phase =
    { /// e.g. "fit: smec", "data: scifact x all-MiniLM-L6-v2", "evaluation", "reports".
      Name: string
      Seconds: float
      /// How many times the phase ran (e.g. fits over seeds).
      Count: int }

type Breakdown =
    { /// make's setup and build before the program started (when run through make), else None.
      BeforeProgramSeconds: float option
      Phases: Phase list
      /// Wall time of the program from its start, including time no phase names (start-up, planning).
      ProgramSeconds: float
      LoadAverage: string option }

let private gate = obj ()
let private phases = Collections.Generic.List<string * float * int>()

/// When the current breakdown started: None = the process start (the first item of a run).
let mutable private since : DateTime option = None

/// Forget every phase and start a new breakdown now (the next item of a multi-item run).
let reset () = lock gate (fun () -> phases.Clear(); since <- Some DateTime.UtcNow)

/// Add seconds to a phase (phases keep their first-seen order).
let add (name: string) (seconds: float) =
    lock gate (fun () ->
        match Seq.tryFindIndex (fun (n, _, _) -> n = name) phases with
        | Some i ->
            let n, s, c = phases.[i]
            phases.[i] <- (n, s + seconds, c + 1)
        | None -> phases.Add((name, seconds, 1)))

/// Run an action as (part of) a named phase.
let time (name: string) (action: unit -> 'T) : 'T =
    let clock = Stopwatch.StartNew()
    try action () finally add name clock.Elapsed.TotalSeconds

/// Environment variable make sets to its start time (Unix seconds), so setup and build are counted.
let MakeStartedVariable = "SMEC_MAKE_STARTED"

let private processStartUtc () =
    try Process.GetCurrentProcess().StartTime.ToUniversalTime() with _ -> DateTime.UtcNow

let snapshot () : Breakdown =
    let started = defaultArg since (processStartUtc ())
    let beforeProgram =
        match Environment.GetEnvironmentVariable MakeStartedVariable with
        | _ when since.IsSome -> None
        | null | "" -> None
        | raw ->
            match Double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, unix ->
                // The process start time comes from /proc with whole-second boot time: allow that error.
                let seconds = (started - DateTime.UnixEpoch).TotalSeconds - unix
                if seconds >= -2.0 && seconds < 86400.0 then Some(max 0.0 seconds) else None
            | _ -> None
    let load = try Some((File.ReadAllText "/proc/loadavg").Trim()) with _ -> None
    { BeforeProgramSeconds = beforeProgram
      Phases = lock gate (fun () -> [ for n, s, c in phases -> { Name = n; Seconds = s; Count = c } ])
      ProgramSeconds = (DateTime.UtcNow - started).TotalSeconds
      LoadAverage = load }

/// Rows for display: make's part, every phase, the unnamed rest of the program, the total.
let rows (b: Breakdown) : (string * float * int) list =
    let named = b.Phases |> List.sumBy (fun p -> p.Seconds)
    [ match b.BeforeProgramSeconds with
      | Some s -> yield "setup and build (make)", s, 1
      | None -> ()
      for p in b.Phases -> p.Name, p.Seconds, p.Count
      yield "program start-up, planning, cache reads", max 0.0 (b.ProgramSeconds - named), 1
      yield "total", b.ProgramSeconds + defaultArg b.BeforeProgramSeconds 0.0, 1 ]

let private seconds (s: float) = s.ToString("F1", CultureInfo.InvariantCulture)

/// Plain-text table (terminal).
let text (b: Breakdown) =
    let sb = StringBuilder()
    let total = b.ProgramSeconds + defaultArg b.BeforeProgramSeconds 0.0
    sb.AppendLine("where the time went:") |> ignore
    for name, s, count in rows b do
        let share = if total > 0.0 then 100.0 * s / total else 0.0
        let times = if count > 1 then sprintf " (x%d)" count else ""
        sb.AppendLine(sprintf "  %-48s %8s s %5.1f%%" (name + times) (seconds s) share) |> ignore
    b.LoadAverage |> Option.iter (fun l -> sb.AppendLine(sprintf "  load average at the end: %s" l) |> ignore)
    sb.ToString()

/// A markdown section for report.md.
let markdown (b: Breakdown) =
    let sb = StringBuilder()
    sb.AppendLine().AppendLine("## Where the time went").AppendLine() |> ignore
    sb.AppendLine("Wall-clock seconds of the run that wrote this report (cached experiments cost nothing).").AppendLine() |> ignore
    sb.AppendLine("| phase | runs | seconds |").AppendLine("|---|---:|---:|") |> ignore
    for name, s, count in rows b do
        sb.AppendLine(sprintf "| %s | %d | %s |" name count (seconds s)) |> ignore
    b.LoadAverage |> Option.iter (fun l -> sb.AppendLine().AppendLine(sprintf "Load average at the end: %s." l) |> ignore)
    sb.ToString()

let json (b: Breakdown) =
    let options = JsonSerializerOptions(WriteIndented = true)
    let phase (name: string, s: float, count: int) =
        dict [ "phase", box name; "seconds", box (Math.Round(s, 3)); "runs", box count ]
    JsonSerializer.Serialize(
        dict
            [ "phases", box [| for r in rows b -> phase r |]
              "load_average", box (defaultArg b.LoadAverage "")
              "generated_utc", box (DateTime.UtcNow.ToString("o")) ],
        options)

/// Store timing.json in the report folder and add the section to its report.md: the report is
/// written again whole (atomically), so a reader never sees it without or with half the section.
let store (folder: string) (b: Breakdown) =
    Smec.Core.Storage.AtomicFile.WriteAllText(Path.Combine(folder, "timing.json"), json b)
    let report = Path.Combine(folder, "report.md")
    if File.Exists report then Smec.Core.Storage.AtomicFile.WriteAllText(report, File.ReadAllText report + markdown b)
