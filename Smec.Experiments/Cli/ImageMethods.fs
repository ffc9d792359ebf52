/// The compression methods `smec images` runs, by command-line name, each built for a list of dims.
module Smec.Experiments.Cli.ImageMethods

open System.Collections.Generic
open Smec.Core.Methods

type MethodEntry = { Name: string; Create: IReadOnlyList<int> -> ICompressor }

let all : MethodEntry list = []

let names = all |> List.map (fun m -> m.Name)

let select (wanted: string list) =
    wanted
    |> List.map (fun name ->
        match all |> List.tryFind (fun m -> m.Name = name.Trim().ToLowerInvariant()) with
        | Some m -> m
        | None -> failwithf "unknown method '%s' (known: %s)" name (String.concat ", " names))
