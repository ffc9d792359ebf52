/// The `smec` command line.
module Smec.Experiments.Cli.Program

open Argu
open Smec.Core.Runtime

[<RequireQualifiedAccess>]
type SmecArgs =
    | [<SubCommand; CliPrefix(CliPrefix.None)>] Version
    | [<CliPrefix(CliPrefix.None)>] Baselines of ParseResults<BaselinesCommand.BaselinesArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Version -> "print package versions, torch threads and the data mirror this build resolves"
            | Baselines _ -> "fit the baselines on SciFact (MiniLM) and print test nDCG@10 per method and dim"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<SmecArgs>(programName = "smec", errorHandler = ProcessExiter())
    let results = parser.ParseCommandLine argv
    try
        match results.GetSubCommand() with
        | SmecArgs.Version -> VersionCommand.run ()
        | SmecArgs.Baselines args -> BaselinesCommand.run args
    with
    | :? TorchLoadException as e ->
        eprintfn "error: %s" e.Message
        3
