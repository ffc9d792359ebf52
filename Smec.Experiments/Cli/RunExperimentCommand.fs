/// `smec run-experiment KEY...`: run experiments by their keys, from the configs a sweep stored for them
/// (results/sweeps/*/points/KEY.json, or --config FILE for one key). What each local worker and each
/// Slurm array task runs; with ensembles, the keys of one cell's seeds train as one ensemble.
module Smec.Experiments.Cli.RunExperimentCommand

open System.IO
open Argu
open Smec.Experiments.Running
open Smec.Experiments.Sweeps
open Smec.Experiments.Store

type RunExperimentArgs =
    | [<MainCommand; ExactlyOnce>] Keys of key: string list
    | [<Unique>] Config of file: string
    | [<Unique>] Ensemble of policy: string
    | [<Unique>] Results of folder: string
    | Manifests of folder: string
    | [<Unique>] Embeddings of manifest: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Keys _ -> "the experiments' keys (a sweep's points/<KEY>.json names each)"
            | Config _ -> "the point file to run, for one key (default: found under <results>/sweeps/*/points/)"
            | Ensemble _ -> "auto (default: on when torch runs on CUDA, off on the CPU), on or off: train the keys of one cell that differ only in seed as one ensemble"
            | Results _ -> "results folder (default results/)"
            | Manifests _ -> "a folder of data manifests added to the repository's; repeatable"
            | Embeddings _ -> "embeddings manifest (default $SMEC_EMBEDDINGS)"

let run (args: ParseResults<RunExperimentArgs>) : int =
    CatalogSession.guard (fun () ->
        let keys = args.GetResult Keys
        if keys.IsEmpty then UserErrors.userError "run-experiment: no key given; expected one or more experiment keys"
        if args.Contains Config && keys.Length > 1 then
            UserErrors.userError "--config: one point file for %d keys; expected one key with --config, or none (each key's point file is found)" keys.Length
        let ensemble =
            match EnsemblePolicy.parse (defaultArg (args.TryGetResult Ensemble) "auto") with
            | Ok policy -> EnsemblePolicy.resolve policy
            | Error message -> UserErrors.userError "--ensemble: %s" message
        SweepCommand.applyDataOptions (args.GetResults Manifests) (args.TryGetResult Embeddings)
        let session = CatalogSession.openSession (args.TryGetResult Embeddings) None (args.TryGetResult Results) CatalogSession.consoleProgress
        let env = session.Environment
        let pointOf (key: string) =
            let file =
                match args.TryGetResult Config with
                | Some f -> f
                | None ->
                    match SweepFolder.findPoint env.ResultsDir key with
                    | f :: _ -> f
                    | [] -> failwithf "no point file for key %s under %s (run `smec sweep plan SPEC` first, or give --config FILE)" key (SweepFolder.sweepsFolder env.ResultsDir)
            let stored, config = SweepFolder.readPoint file
            if stored <> key then raise (InvalidDataException(sprintf "%s: holds key %s, not %s" file stored key))
            key, config
        let outcomes = PointRunner.runAll env ensemble (keys |> List.distinct |> List.map pointOf)
        for key, outcome in outcomes do
            match outcome with
            | PointRunner.AlreadyStored -> printfn "%s stored: %s" (ConfigHash.short key) (ResultStore.pathOf env.ResultsDir key)
            | PointRunner.Computed result -> printfn "%s computed in %.1f s: %s" (ConfigHash.short key) result.Seconds (ResultStore.pathOf env.ResultsDir key)
            | PointRunner.RunningElsewhere who -> printfn "%s is being computed by %s; not started twice" (ConfigHash.short key) who
            | PointRunner.NotComputed reason -> eprintfn "error: %s not computed: %s" (ConfigHash.short key) reason
        if outcomes |> List.exists (function _, PointRunner.NotComputed _ -> true | _ -> false) then 1 else 0)
