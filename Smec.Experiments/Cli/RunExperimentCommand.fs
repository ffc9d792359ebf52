/// `smec run-experiment KEY`: run one experiment by its key, from the config a sweep stored for it
/// (results/sweeps/*/points/KEY.json, or --config FILE). What each Slurm array task runs.
module Smec.Experiments.Cli.RunExperimentCommand

open System.IO
open Argu
open Smec.Experiments.Running
open Smec.Experiments.Sweeps
open Smec.Experiments.Store

type RunExperimentArgs =
    | [<MainCommand; ExactlyOnce>] Key of key: string
    | [<Unique>] Config of file: string
    | [<Unique>] Results of folder: string
    | Manifests of folder: string
    | [<Unique>] Embeddings of manifest: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Key _ -> "the experiment's key (a sweep's points/<KEY>.json names it)"
            | Config _ -> "the point file to run (default: found under <results>/sweeps/*/points/)"
            | Results _ -> "results folder (default results/)"
            | Manifests _ -> "a folder of data manifests added to the repository's; repeatable"
            | Embeddings _ -> "embeddings manifest (default $SMEC_EMBEDDINGS)"

let run (args: ParseResults<RunExperimentArgs>) : int =
    CatalogSession.guard (fun () ->
        let key = args.GetResult Key
        SweepCommand.applyDataOptions (args.GetResults Manifests) (args.TryGetResult Embeddings)
        let session = CatalogSession.openSession (args.TryGetResult Embeddings) None (args.TryGetResult Results) CatalogSession.consoleProgress
        let env = session.Environment
        let file =
            match args.TryGetResult Config with
            | Some f -> f
            | None ->
                match SweepFolder.findPoint env.ResultsDir key with
                | f :: _ -> f
                | [] -> failwithf "no point file for key %s under %s (run `smec sweep plan SPEC` first, or give --config FILE)" key (SweepFolder.sweepsFolder env.ResultsDir)
        let stored, config = SweepFolder.readPoint file
        if stored <> key then raise (InvalidDataException(sprintf "%s: holds key %s, not %s" file stored key))
        match PointRunner.run env key config with
        | PointRunner.AlreadyStored ->
            printfn "%s stored: %s" (ConfigHash.short key) (ResultStore.pathOf env.ResultsDir key)
            0
        | PointRunner.Computed result ->
            printfn "%s computed in %.1f s: %s" (ConfigHash.short key) result.Seconds (ResultStore.pathOf env.ResultsDir key)
            0
        | PointRunner.RunningElsewhere who ->
            printfn "%s is being computed by %s; not started twice" (ConfigHash.short key) who
            0
        | PointRunner.NotComputed reason ->
            eprintfn "error: %s not computed: %s" (ConfigHash.short key) reason
            1)
