/// The `smec` command line.
module Smec.Experiments.Cli.Program

open Argu
open Smec.Core.Runtime

[<RequireQualifiedAccess>]
type SmecArgs =
    | [<SubCommand; CliPrefix(CliPrefix.None)>] Version
    | [<CliPrefix(CliPrefix.None)>] Eval of ParseResults<EvalCommand.EvalArgs>
    | [<CliPrefix(CliPrefix.None)>] Search of ParseResults<SearchCommand.SearchArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<BenchCommand.BenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Encode of ParseResults<EncodeCommand.EncodeArgs>
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<DataCommand.DataArgs>
    | [<CliPrefix(CliPrefix.None)>] Baselines of ParseResults<BaselinesCommand.BaselinesArgs>
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainCommand.TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Compress of ParseResults<CompressCommand.CompressArgs>
    | [<CliPrefix(CliPrefix.None)>] Images of ParseResults<ImagesCommand.ImagesArgs>
    | [<CliPrefix(CliPrefix.None)>] Reproduce of ParseResults<ReproduceCommand.ReproduceArgs>
    | [<CliPrefix(CliPrefix.None)>] Bless of ParseResults<BlessCommand.BlessArgs>
    | [<CliPrefix(CliPrefix.None)>] Check of ParseResults<CheckCommand.CheckArgs>
    | [<CliPrefix(CliPrefix.None)>] List of ParseResults<ListCommand.ListArgs>
    | [<CliPrefix(CliPrefix.None)>] Sweep of ParseResults<SweepCommand.SweepArgs>
    | [<CliPrefix(CliPrefix.None)>] Run_Experiment of ParseResults<RunExperimentCommand.RunExperimentArgs>
    | [<CliPrefix(CliPrefix.None)>] Methods of ParseResults<MethodsCommand.MethodsArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Version -> "print package versions, torch threads and the data mirror this build resolves"
            | Eval _ -> "trec_eval figures (4 decimals) for a qrels file and a TREC run file"
            | Search _ -> "exact top-k search of .npy embeddings, written as a TREC run file"
            | Bench _ -> "benchmark exact search against the bare matrix product (random vectors)"
            | Encode _ -> "build or reuse the embeddings of a dataset under an encoder, and print where they are"
            | Data _ -> "list the declared datasets and encoders, or verify the local copies"
            | Baselines _ -> "methods x dims on SciFact (or other text datasets): item 2's configs, cache and checks, narrowed"
            | Train _ -> "train SMEC (or an ablation) on embeddings and print nDCG@10 per dim"
            | Compress _ -> "compress a .npy of embeddings with a saved model (any method)"
            | Images _ -> "the local image (item 4) and multimodal (item 5) tables, narrowed to datasets, methods and dims"
            | Reproduce _ -> "reproduce a catalog item: run or reuse its experiments, judge every cell, write results/item-N/"
            | Bless _ -> "record a table's current values (from the cache) as its regression reference"
            | Check _ -> "judge tables from cached results only; exit 1 on any FAIL"
            | List _ -> "list the catalog's items"
            | Sweep _ -> "plan, run (local or Slurm), follow or report a sweep spec (YAML): smec sweep run SPEC"
            | Run_Experiment _ -> "run one experiment by its key (a sweep's point; what each Slurm task runs)"
            | Methods _ -> "list the methods and their options (names, types, defaults)"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<SmecArgs>(programName = "smec", errorHandler = ProcessExiter())
    let results = parser.ParseCommandLine argv
    try
        match results.GetSubCommand() with
        | SmecArgs.Version -> VersionCommand.run ()
        | SmecArgs.Eval args -> EvalCommand.run args
        | SmecArgs.Search args -> SearchCommand.run args
        | SmecArgs.Bench args -> BenchCommand.run args
        | SmecArgs.Encode args -> EncodeCommand.run args
        | SmecArgs.Data args -> DataCommand.run args
        | SmecArgs.Baselines args -> BaselinesCommand.run args
        | SmecArgs.Train args -> TrainCommand.run args
        | SmecArgs.Compress args -> CompressCommand.run args
        | SmecArgs.Images args -> ImagesCommand.run args
        | SmecArgs.Reproduce args -> ReproduceCommand.run args
        | SmecArgs.Bless args -> BlessCommand.run args
        | SmecArgs.Check args -> CheckCommand.run args
        | SmecArgs.List args -> ListCommand.run args
        | SmecArgs.Sweep args -> SweepCommand.run args
        | SmecArgs.Run_Experiment args -> RunExperimentCommand.run args
        | SmecArgs.Methods args -> MethodsCommand.run args
    with
    | :? TorchLoadException as e ->
        eprintfn "error: %s" e.Message
        3
    // Bad input files or arguments: the message names the file and line or the value.
    | :? System.IO.InvalidDataException
    | :? System.IO.IOException
    | :? System.UnauthorizedAccessException
    | :? System.FormatException
    | :? System.ArgumentException
    | :? Smec.Core.Data.DataUnavailableException
    | :? Smec.Core.Data.DataVerificationException
    | :? Smec.Core.Data.Manifests.ManifestException as e ->
        eprintfn "error: %s" e.Message
        2
