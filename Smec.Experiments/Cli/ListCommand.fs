/// `smec list`: the catalog's items, what each reproduces, and how many of its experiments are cached.
module Smec.Experiments.Cli.ListCommand

open Argu
open Spectre.Console
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running

type ListArgs =
    | [<Unique>] Embeddings of manifest: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Embeddings _ -> "embeddings manifest (to count the paper profile's experiments)"

let run (args: ParseResults<ListArgs>) : int =
    CatalogSession.guard (fun () ->
        let session = CatalogSession.openSession (args.TryGetResult Embeddings) None None ignore
        let table = Spectre.Console.Table(Title = TableTitle(Markup.Escape "SMEC catalog (make reproduce TABLE=N [PROFILE=local|paper])"))
        for h in [ "item"; "what"; "paper source"; "local: experiments cached"; "paper profile needs" ] do table.AddColumn h |> ignore
        for item in Catalog.items do
            let planned = Runner.plan session.Environment (item.Build Local session.Context)
            let cached = planned |> List.filter (fun p -> p.Cached) |> List.length
            table.AddRow(
                string item.Number,
                Markup.Escape item.Title,
                Markup.Escape item.PaperSource,
                sprintf "%d / %d" cached planned.Length,
                Markup.Escape(match item.PaperEncoders with [] -> "nothing" | es -> String.concat ", " es + " embeddings")) |> ignore
        AnsiConsole.Write table
        0)
