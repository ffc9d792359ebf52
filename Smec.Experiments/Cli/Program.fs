/// The `smec` command line.
module Smec.Experiments.Cli.Program

open Argu
open Smec.Core.Runtime

[<RequireQualifiedAccess>]
type SmecArgs =
    | [<SubCommand; CliPrefix(CliPrefix.None)>] Version
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainCommand.TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Compress of ParseResults<CompressCommand.CompressArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Version -> "print package versions, torch threads and the data mirror this build resolves"
            | Train _ -> "train SMEC (or an ablation) on embeddings and print nDCG@10 per dim"
            | Compress _ -> "compress a .npy of embeddings with a saved SMEC model"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<SmecArgs>(programName = "smec", errorHandler = ProcessExiter())
    let results = parser.ParseCommandLine argv
    try
        match results.GetSubCommand() with
        | SmecArgs.Version -> VersionCommand.run ()
        | SmecArgs.Train args -> TrainCommand.run args
        | SmecArgs.Compress args -> CompressCommand.run args
    with
    | :? TorchLoadException as e ->
        eprintfn "error: %s" e.Message
        3
