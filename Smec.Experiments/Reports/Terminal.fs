/// The report on the terminal (Spectre.Console): each panel as a table with coloured verdicts,
/// the claims, the reasons for skipped cells, and one summary line.
module Smec.Experiments.Reports.Terminal

open Spectre.Console
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Running.TableRun

let private colour (text: string) =
    let safe = Markup.Escape text
    if text.Contains "FAIL" then sprintf "[red]%s[/]" safe
    elif text.Contains "IMPROVED" then sprintf "[magenta]%s[/]" safe
    elif text.Contains "TIE" then sprintf "[blue]%s[/]" safe
    elif text.Contains "OK*" then sprintf "[yellow]%s[/]" safe
    elif text.Contains "SKIPPED" then sprintf "[grey]%s[/]" safe
    elif text.EndsWith " OK" || text = "OK" then sprintf "[green]%s[/]" safe
    else safe

let print (console: IAnsiConsole) (result: TableResult) (reportFolder: string) =
    let spec = result.Spec
    console.Write(Rule(Markup.Escape(CellText.title result)))
    console.MarkupLine(Markup.Escape(CellText.legend result))
    match threadNote result with
    | Some note -> console.MarkupLine("[yellow]Note:[/] " + Markup.Escape note)
    | None -> ()
    for panel in spec.Panels do
        let frame = Frames.panelFrame result panel (CellText.tableCell result)
        let unit = result.Cells |> List.tryFind (fun c -> c.Cell.Panel = panel) |> Option.map (fun c -> c.Cell.Display.Unit) |> Option.defaultValue ""
        let table = Table(Title = TableTitle(Markup.Escape(if unit = "" then panel else sprintf "%s (%s)" panel unit)))
        table.AddColumn("") |> ignore
        let columns = frame.ColumnKeys |> List.ofSeq
        for c in columns do table.AddColumn(TableColumn(Markup.Escape c).RightAligned()) |> ignore
        for r in frame.RowKeys do
            table.AddRow(Array.ofList (Markup.Escape r :: [ for c in columns -> colour (Frames.textAt frame r c) ])) |> ignore
        console.Write table
    if not result.Claims.IsEmpty then
        let table = Table(Title = TableTitle "claims")
        for h in [ "claim"; "panel"; "numbers"; "status" ] do table.AddColumn(h) |> ignore
        for c in result.Claims do
            // A claim that cannot be judged repeats a reason listed below the tables: keep the row short.
            let numbers = if c.Status = Skipped then "not computed (reasons below)" else c.Detail
            table.AddRow(Markup.Escape c.Claim.Id, Markup.Escape c.Claim.Panel, Markup.Escape numbers, colour (Status.name c.Status)) |> ignore
        console.Write table
    match comparisonsNote result with
    | Some note -> console.MarkupLine(Markup.Escape note)
    | None -> ()
    for s, reason, n in CellText.reasons result do
        console.MarkupLine(sprintf "%s (%d): %s" (colour s) n (Markup.Escape reason))
    console.MarkupLine(sprintf "%s. [bold]Verdicts: %s.[/]" (Markup.Escape(CellText.experimentSummary result)) (Markup.Escape(CellText.statusSummary result)))
    console.MarkupLine(sprintf "Report: %s (its Rules section states how every verdict is reached)" (Markup.Escape reportFolder))
