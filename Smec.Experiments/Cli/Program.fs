/// The `smec` command line.
module Smec.Experiments.Cli.Program

open Argu
open Smec.Core.Runtime

[<RequireQualifiedAccess>]
type SmecArgs =
    | [<SubCommand; CliPrefix(CliPrefix.None)>] Version
    | [<CliPrefix(CliPrefix.None)>] Encode of ParseResults<EncodeCommand.EncodeArgs>
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<DataCommand.DataArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Version -> "print package versions, torch threads and the data mirror this build resolves"
            | Encode _ -> "build or reuse the embeddings of a dataset under an encoder, and print where they are"
            | Data _ -> "list the declared datasets and encoders, or verify the local copies"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<SmecArgs>(programName = "smec", errorHandler = ProcessExiter())
    let results = parser.ParseCommandLine argv
    try
        match results.GetSubCommand() with
        | SmecArgs.Version -> VersionCommand.run ()
        | SmecArgs.Encode args -> EncodeCommand.run args
        | SmecArgs.Data args -> DataCommand.run args
    with
    | :? TorchLoadException as e ->
        eprintfn "error: %s" e.Message
        3
    | :? Smec.Core.Data.DataUnavailableException
    | :? Smec.Core.Data.DataVerificationException
    | :? Smec.Core.Data.Manifests.ManifestException as e ->
        eprintfn "error: %s" e.Message
        2
