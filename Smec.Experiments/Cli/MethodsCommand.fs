/// `smec methods`: the method registry — each key, its table label, whether it learns, and its
/// options with their types and defaults (what a sweep spec or a catalog config may set).
module Smec.Experiments.Cli.MethodsCommand

open Argu
open Spectre.Console
open Smec.Experiments.Running
open Smec.Experiments.Methods

type MethodsArgs =
    | [<MainCommand; Unique>] Method of key: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Method _ -> "show one method's options (default: every method, options counted)"

let private summaryTable (registry: MethodRegistry.MethodRegistry) =
    let table = Table(Title = TableTitle "methods (smec methods KEY for a method's options)")
    for h in [ "key"; "label"; "learns"; "options"; "what it is" ] do table.AddColumn h |> ignore
    for entry in registry.Entries.Values do
        table.AddRow(entry.Key, Markup.Escape entry.Label, (if entry.Trains then "yes" else "no"),
                     string entry.Options.Length, Markup.Escape entry.Summary) |> ignore
    table

let private optionsTable (entry: MethodRegistry.MethodEntry) =
    let table = Table(Title = TableTitle(Markup.Escape(sprintf "%s (%s): options" entry.Key entry.Label)))
    for h in [ "option"; "value"; "default"; "where it lands" ] do table.AddColumn h |> ignore
    for spec in entry.Options do
        table.AddRow(spec.Name, Markup.Escape(MethodOptions.OptionKind.describe spec.Kind), Markup.Escape spec.Default, Markup.Escape spec.Doc) |> ignore
    table

let run (args: ParseResults<MethodsArgs>) : int =
    let registry = MethodRegistry.standard
    match args.TryGetResult Method with
    | None ->
        AnsiConsole.Write(summaryTable registry)
        0
    | Some key ->
        match registry.Resolve key with
        | Ok entry ->
            if entry.Options.IsEmpty then printfn "%s (%s) has no options." entry.Key entry.Label
            else AnsiConsole.Write(optionsTable entry)
            0
        | Error message ->
            eprintfn "error: methods: %s" message
            2
