/// The `smec` command line.
module Smec.Experiments.Cli.Program

open Argu
open Smec.Core.Runtime
open Smec.Experiments.Cli.UserErrors
open Smec.Experiments.Bench

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
    | [<CliPrefix(CliPrefix.None)>] Runs of ParseResults<RunsCommand.RunsArgs>
    | [<CliPrefix(CliPrefix.None)>] List of ParseResults<ListCommand.ListArgs>
    | [<CliPrefix(CliPrefix.None)>] Sweep of ParseResults<SweepCommand.SweepArgs>
    | [<CliPrefix(CliPrefix.None)>] Run_Experiment of ParseResults<RunExperimentCommand.RunExperimentArgs>
    | [<CliPrefix(CliPrefix.None)>] Methods of ParseResults<MethodsCommand.MethodsArgs>
    | Verbose

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
            | Runs _ -> "ship an item's cached experiments with the repository (export), or copy shipped runs into the cache (import)"
            | List _ -> "list the catalog's items"
            | Sweep _ -> "plan, run (local or Slurm), follow or report a sweep spec (YAML): smec sweep run SPEC"
            | Run_Experiment _ -> "run one experiment by its key (a sweep's point; what each Slurm task runs)"
            | Methods _ -> "list the methods and their options (names, types, defaults)"
            | Verbose -> "on an error, also print its stack trace (allowed anywhere on the line; or SMEC_VERBOSE=1)"

/// Exit codes: 0 success; 1 the command ran and found failures (a FAIL verdict, a failed experiment, a
/// dataset that does not verify); 2 a user mistake (an option, a file, a name); 3 the native torch
/// library could not load; 70 a bug (an exception the program did not expect).
let userErrorCode, torchErrorCode, bugCode = 2, 3, 70

let rec private unwrap (e: exn) =
    match e with
    | :? System.AggregateException as a when a.InnerExceptions.Count = 1 -> unwrap a.InnerExceptions.[0]
    | :? System.Reflection.TargetInvocationException
    | :? System.TypeInitializationException when not (isNull e.InnerException) -> unwrap e.InnerException
    | _ -> e

/// The one-line message of a user mistake, or None for an exception the program did not expect.
let userMessage (e: exn) : string option =
    match e with
    | :? System.IO.FileNotFoundException as f when not (isNull f.FileName) && f.Message.StartsWith "Could not find file" ->
        Some(sprintf "%s: does not exist; expected an existing file" f.FileName)
    | :? UserInputException
    | :? Smec.Core.Runtime.UnknownNameException
    | :? TrainingDivergedException
    | :? System.IO.InvalidDataException
    | :? System.IO.IOException
    | :? System.UnauthorizedAccessException
    | :? System.FormatException
    | :? System.ArgumentException
    | :? Smec.Core.Data.DataUnavailableException
    | :? Smec.Core.Data.DataVerificationException
    | :? Smec.Core.Data.Manifests.ManifestException -> Some e.Message
    | Failure message -> Some message
    | _ -> None

/// Print an error the way every command does and return the exit code.
let report (verbose: bool) (e: exn) =
    let e = unwrap e
    match e with
    | :? TorchLoadException ->
        eprintfn "error: %s" e.Message
        if verbose then eprintfn "%O" e
        torchErrorCode
    | _ ->
        match userMessage e with
        | Some message ->
            eprintfn "error: %s" (message.ReplaceLineEndings " ")
            if verbose then eprintfn "%O" e
            userErrorCode
        | None ->
            eprintfn "error: internal error, a bug in smec (not a mistake in your input): %s: %s" (e.GetType().FullName) e.Message
            if verbose then eprintfn "%O" e
            else eprintfn "Please report it with the command line and this output; rerun with --verbose for the stack trace."
            bugCode

let private helpAsked (argv: string[]) = argv |> Array.exists (fun a -> a = "--help" || a = "-h")

/// The usage text of the longest run of leading command words that Argu parses with `--help` after it.
let private helpOf (parser: ArgumentParser<SmecArgs>) (argv: string[]) =
    let words = argv |> Array.takeWhile (fun a -> not (a.StartsWith "-"))
    seq { words.Length .. -1 .. 0 }
    |> Seq.tryPick (fun n ->
        try
            parser.ParseCommandLine(Array.append (Array.take n words) [| "--help" |], raiseOnUsage = true) |> ignore
            None
        with :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText -> Some e.Message
           | :? ArguParseException -> None)
    |> Option.defaultWith (fun () -> parser.PrintUsage())

[<EntryPoint>]
let main argv =
    OpenMpEnvironment.Apply() // before anything loads libtorch (libgomp reads OMP_* once, at load)
    let verbose = Array.contains "--verbose" argv || System.Environment.GetEnvironmentVariable "SMEC_VERBOSE" = "1"
    let argv = argv |> Array.filter (fun a -> a <> "--verbose")
    let parser = ArgumentParser.Create<SmecArgs>(programName = "smec")
    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
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
        | SmecArgs.Runs args -> RunsCommand.run args
        | SmecArgs.List args -> ListCommand.run args
        | SmecArgs.Sweep args -> SweepCommand.run args
        | SmecArgs.Run_Experiment args -> RunExperimentCommand.run args
        | SmecArgs.Methods args -> MethodsCommand.run args
        | SmecArgs.Verbose -> userError "--verbose: no command given; expected e.g. smec --verbose eval ..."
    with
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        stdout.Write e.Message
        0
    | :? ArguParseException when helpAsked argv ->
        // `smec sweep run --help`: Argu reads `--help` as the action's missing argument. The help of
        // the deepest command the words before it name is what the user asked for.
        stdout.Write(helpOf parser argv)
        0
    | :? ArguParseException as e ->
        // Argu's text is the error, then the usage: show the error and where the usage is.
        let first = e.Message.Split('\n').[0].Trim()
        let first = (if first.StartsWith "ERROR: " then first.Substring 7 else first).TrimEnd('.')
        if argv.Length = 0 then eprintf "%s" (parser.PrintUsage())
        eprintfn "error: %s; expected the options `smec %s--help` lists" first
            (argv |> Array.tryHead |> Option.filter (fun a -> not (a.StartsWith "-")) |> Option.map (fun a -> a + " ") |> Option.defaultValue "")
        userErrorCode
    | e -> report verbose e
