/// `smec check [--table N]`: judge tables from cached results only (nothing runs); exit 1 if any
/// check or claim FAILs or a cell IMPROVED beyond its band (re-bless or explain), else 2 if an
/// item's experiments are not all in the cache (their checks are SKIPPED, which is no evidence:
/// a gate must not pass on what was never computed). TIEs are counted apart and do not fail.
/// The regression gate for CI and for a reviewer.
module Smec.Experiments.Cli.CheckCommand

open Argu
open Spectre.Console
open Smec.Experiments.Catalog
open Smec.Experiments.Running
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Reports
open Smec.Experiments.Verdicts

type CheckArgs =
    | [<Unique>] Table of item: int
    | [<Unique>] Profile of name: string
    | [<Unique>] Seeds of count: int
    | Quick
    | [<Unique>] Embeddings of manifest: string
    | [<Unique>] Results of folder: string
    | Robustness

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Table _ -> "one catalog item (default: all)"
            | Profile _ -> "local (default) or paper"
            | Seeds _ -> sprintf "seeds per trained cell (default %d)" Smec.Experiments.Catalog.Profiles.defaultSeedCount
            | Quick -> "one seed per trained cell (seed 1): a quick look, labelled as such in every output"
            | Embeddings _ -> "embeddings manifest (paper profile)"
            | Results _ -> "results folder (default: results/ in the repository)"
            | Robustness -> "also judge every claim under each protocol variant (residual MLP, shared selection, untuned) from the cache and print the robustness table (a variant not yet run is n/a; the exit code is the primary protocol's)"

/// Every check and claim of a table that fails `smec check` (FAIL or IMPROVED, a claim FAIL not
/// blessed as known, a blessed FAIL that now holds), as (status, line naming the cell).
let failureLines (item: int) (known: BlessedClaims.KnownFail list) (result: TableRun.TableResult) =
    [ for c in result.Cells do
          for k in c.Checks do
              if Status.fails k.Status then
                  yield
                      Status.name k.Status,
                      sprintf "item %d %s / %s / %s: %s check %s, expected %s (%s)" item c.Cell.Panel c.Cell.Row c.Cell.Column
                          (CheckKind.name k.Kind) (CellText.value c.Cell.Display c.Value) (CellText.optionalNumber c.Cell.Display k.Expected) k.Note
      for c in result.Claims do
          match BlessedClaims.find known c.Claim.Panel c.Claim.Id, c.Status with
          | Some _, Fail -> ()
          | Some k, Pass ->
              yield "CHANGED", sprintf "item %d claim %s (%s): blessed %s as a known FAIL, now OK (re-bless or explain): %s" item c.Claim.Id c.Claim.Panel k.BlessedOn c.Detail
          | _, status when Status.fails status -> yield Status.name status, sprintf "item %d claim %s (%s): %s" item c.Claim.Id c.Claim.Panel c.Detail
          | _ -> () ]

/// Claims that FAIL as blessed (known findings, listed, not failing) and blessed FAILs now within noise.
let knownLines (item: int) (known: BlessedClaims.KnownFail list) (result: TableRun.TableResult) =
    [ for c in result.Claims do
          match BlessedClaims.find known c.Claim.Panel c.Claim.Id, c.Status with
          | Some k, Fail -> yield sprintf "item %d claim %s (%s): FAIL as blessed %s (the paper's claim does not reproduce here): %s" item c.Claim.Id c.Claim.Panel k.BlessedOn c.Detail
          | Some k, Tie -> yield sprintf "item %d claim %s (%s): blessed %s as a FAIL, now a TIE (within noise): %s" item c.Claim.Id c.Claim.Panel k.BlessedOn c.Detail
          | _ -> () ]

/// The item's experiments that are not in the cache, as a line saying what that means and what computes
/// them (None when every planned experiment is cached).
/// `makeFlags`: the make variables the check ran with (" SEEDS=3", " QUICK=1"), so the command repeats its seeds.
/// `shippedFolder`: where the item's shipped runs would be (paper-results/runs/item-N-<profile>); the
/// line says how many of the missing experiments are there, which `smec runs import` brings in.
let incompleteLine (item: int) (makeFlags: string) (shippedFolder: string) (result: TableRun.TableResult) =
    let missing = result.Planned |> List.filter (fun p -> not p.Cached)
    if missing.IsEmpty then None
    else
        let shipped = Smec.Experiments.Store.RunArchive.shippedCount shippedFolder (missing |> List.map (fun p -> p.Hash))
        let importHint =
            if shipped = 0 then ""
            else sprintf "; %d of them are shipped in %s, which `smec runs import` copies into the cache" shipped shippedFolder
        Some(sprintf "item %d: %d of %d experiments are not in the cache, so the checks and claims that need them are SKIPPED, not passed; `make reproduce TABLE=%d%s` computes them (it resumes from the cache; `smec reproduce --table %d --dry-run` lists them)%s"
                item missing.Length result.Planned.Length item makeFlags item importHint)

/// Exit codes: 0 every check judged and none failed, 1 a failure, 2 no failure but experiments missing.
let exitCode (failures: int) (incomplete: int) = if failures > 0 then 1 elif incomplete > 0 then 2 else 0

let run (args: ParseResults<CheckArgs>) : int =
    CatalogSession.guard (fun () ->
        let session =
            CatalogSession.openSession (args.TryGetResult Embeddings) (CatalogSession.seedCount (args.TryGetResult Seeds) (args.Contains Quick)) (args.TryGetResult Results) ignore
        let profile = CatalogSession.parseProfile (args.TryGetResult Profile)
        let items =
            match args.TryGetResult Table with
            | Some n -> [ Catalog.find n ]
            | None -> Catalog.items
        let table = Spectre.Console.Table(Title = TableTitle(sprintf "checks from the cache (%s profile)" (Model.Profile.name profile)))
        for h in [ "item"; "seeds" ] @ (Status.all |> List.map Status.name) do table.AddColumn h |> ignore
        let failures = ResizeArray()
        let known = ResizeArray()
        let notes = ResizeArray()
        let incomplete = ResizeArray()
        let makeFlags =
            (match args.TryGetResult Seeds with Some n -> sprintf " SEEDS=%d" n | None -> "") + (if args.Contains Quick then " QUICK=1" else "")
        for item in items do
            let spec = item.Build profile session.Context
            let result = TableRun.reproduce session.Environment session.Published { Runner.Force = false; Runner.DryRun = true; Runner.Ensemble = false } spec
            let counts = Frames.statusCounts result |> Map.ofList
            let seeds = match TableRun.quickLabel result with "" -> string result.Spec.Seeds.Length | quick -> quick.ToUpperInvariant()
            table.AddRow(
                Array.ofList
                    [ yield sprintf "%d %s" item.Number (Markup.Escape item.Title)
                      yield Markup.Escape seeds
                      for s in Status.all ->
                          let n = counts.[Status.name s]
                          if n > 0 && Status.fails s then sprintf "[red]%d[/]" n else string n ]) |> ignore
            match TableRun.threadNote result with
            | Some note -> notes.Add(sprintf "item %d: %s" item.Number note)
            | None -> ()
            let shippedFolder = Smec.Experiments.Store.RunArchive.folderOf session.Environment.PaperResultsDir item.Number (Model.Profile.name profile)
            incompleteLine item.Number makeFlags shippedFolder result |> Option.iter incomplete.Add
            let blessedClaims = BlessedClaims.load (BlessedClaims.pathOf session.Environment.PaperResultsDir item.Number profile)
            failures.AddRange(failureLines item.Number blessedClaims result)
            known.AddRange(knownLines item.Number blessedClaims result)
            if args.Contains Robustness then
                AnsiConsole.MarkupLine(sprintf "[bold]item %d[/]" item.Number)
                ReproduceCommand.robustness session { Runner.Force = false; Runner.DryRun = true; Runner.Ensemble = false } 1 result None
        AnsiConsole.Write table
        for n in notes do AnsiConsole.MarkupLine("[yellow]Note:[/] " + Markup.Escape n)
        for k in known do AnsiConsole.MarkupLine("[yellow]KNOWN[/] " + Markup.Escape k)
        for status, f in failures do AnsiConsole.MarkupLine(sprintf "[red]%s[/] %s" status (Markup.Escape f))
        for line in incomplete do AnsiConsole.MarkupLine("[yellow]INCOMPLETE[/] " + Markup.Escape line)
        exitCode failures.Count incomplete.Count)
