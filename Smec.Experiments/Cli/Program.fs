/// The `smec` command line.
module Smec.Experiments.Cli.Program

open Argu
open Smec.Core.Runtime

[<RequireQualifiedAccess>]
type SmecArgs =
    | [<SubCommand; CliPrefix(CliPrefix.None)>] Version

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Version -> "print package versions, torch threads and the data mirror this build resolves"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<SmecArgs>(programName = "smec", errorHandler = ProcessExiter())
    let results = parser.ParseCommandLine argv
    try
        match results.GetSubCommand() with
        | SmecArgs.Version -> VersionCommand.run ()
    with
    | :? TorchLoadException as e ->
        eprintfn "error: %s" e.Message
        3
