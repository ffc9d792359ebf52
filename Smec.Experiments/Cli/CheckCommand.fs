/// `smec check [--table N]`: judge tables from cached results only (nothing runs); exit 1 if any
/// check or claim FAILs. The regression gate for CI and for a reviewer.
module Smec.Experiments.Cli.CheckCommand

open Argu
open Spectre.Console
open Smec.Experiments.Catalog
open Smec.Experiments.Running
open Smec.Experiments.Running.Checks
open Smec.Experiments.Reports

type CheckArgs =
    | [<Unique>] Table of item: int
    | [<Unique>] Profile of name: string
    | [<Unique>] Seeds of count: int
    | [<Unique>] Embeddings of manifest: string
    | [<Unique>] Results of folder: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Table _ -> "one catalog item (default: all)"
            | Profile _ -> "local (default) or paper"
            | Seeds _ -> "seeds (default 1)"
            | Embeddings _ -> "embeddings manifest (paper profile)"
            | Results _ -> "results folder (default: results/ in the repository)"

let run (args: ParseResults<CheckArgs>) : int =
    CatalogSession.guard (fun () ->
        let session =
            CatalogSession.openSession (args.TryGetResult Embeddings) (args.TryGetResult Seeds) (args.TryGetResult Results) ignore
        let profile = CatalogSession.parseProfile (args.TryGetResult Profile)
        let items =
            match args.TryGetResult Table with
            | Some n -> [ Catalog.find n ]
            | None -> Catalog.items
        let table = Spectre.Console.Table(Title = TableTitle(sprintf "checks from the cache (%s profile)" (Model.Profile.name profile)))
        for h in [ "item"; "OK"; "OK*"; "FAIL"; "SKIPPED" ] do table.AddColumn h |> ignore
        let failures = ResizeArray()
        for item in items do
            let spec = item.Build profile session.Context
            let result = TableRun.reproduce session.Environment session.Published { Runner.Force = false; Runner.DryRun = true } spec
            let counts = Frames.statusCounts result |> Map.ofList
            table.AddRow(
                sprintf "%d %s" item.Number (Markup.Escape item.Title),
                string counts.["OK"], string counts.["OK*"],
                (if counts.["FAIL"] > 0 then sprintf "[red]%d[/]" counts.["FAIL"] else "0"),
                string counts.["SKIPPED"]) |> ignore
            for c in result.Cells do
                for k in c.Checks do
                    if k.Status = Fail then
                        failures.Add(sprintf "item %d %s / %s / %s: %s check %s (%s)" item.Number c.Cell.Panel c.Cell.Row c.Cell.Column
                                         (CheckKind.name k.Kind) (CellText.value c.Cell.Display c.Value) k.Note)
            for c in result.Claims do
                if c.Status = Fail then failures.Add(sprintf "item %d claim %s: %s" item.Number c.Claim.Id c.Detail)
        AnsiConsole.Write table
        for f in failures do AnsiConsole.MarkupLine("[red]FAIL[/] " + Markup.Escape f)
        if failures.Count > 0 then 1 else 0)
