/// Experiments that are not "fit, compress, score" (items 8 and 9) run through probes, registered
/// like methods. The contract of each kind is the set of measurements it reports:
///
/// gradient-probe (item 8), config.Method = "mrl-vs-smrl", options fc_out / prefixes / epochs:
///   for each variant v in {mrl, smrl} and epoch e (0-based): v.grad_shared@e (mean |grad| of the
///   weights feeding dims 0..p1), v.grad_unshared@e (weights feeding p1..p2), v.grad_var@e
///   (variance of the shared weights' gradients), v.loss@e (mean training loss); and v.loss@first,
///   v.loss@last, v.grad_var_mean.
///
/// dimension-importance (item 9), config.Method = the method whose selection is judged (SMEC's
///   key for ADS, truncation's for the prefix), option importance = how importance is measured on
///   validation queries: important_share@d for each d of config.Dims.
module Smec.Experiments.Running.Probes

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Datasets
open Smec.Experiments.Methods.MethodRegistry

type ProbeContext =
    { Config: ExperimentConfig
      Data: LoadedDataset
      Methods: MethodRegistry }

type ProbeOutput =
    { Measurements: Map<string, float>
      Settings: Map<string, string>
      Notes: string list }

type ProbeRunner = ProbeContext -> ProbeOutput

/// A probe and its implementation tag (part of the key of its stored results, as for methods).
type ProbeEntry =
    { Run: ProbeRunner
      Implementation: string }

type ProbeRegistry =
    { Runners: Map<ExperimentKind, ProbeEntry> }

    member this.ImplementationOf(kind: ExperimentKind) =
        match this.Runners.TryFind kind with
        | Some entry -> entry.Implementation
        | None -> ""

    member this.Resolve(kind: ExperimentKind) : Result<ProbeRunner, string> =
        match this.Runners.TryFind kind with
        | Some entry -> Ok entry.Run
        | None -> Error(sprintf "no probe registered for %s experiments" (ExperimentKind.name kind))

    member this.With(kind: ExperimentKind, runner: ProbeRunner, implementation: string) =
        { this with Runners = this.Runners.Add(kind, { Run = runner; Implementation = implementation }) }
