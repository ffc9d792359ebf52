/// `--ensemble auto|on|off`: whether a run trains the experiments that differ only in seed as one
/// ensemble (Runner.RunOptions.Ensemble). Measured on 2 CPU cores, an ensemble step of K members saves
/// only 3-24% against K steps alone (docs/PERFORMANCE.md, "Ensembles"), and a member equals itself alone
/// to float rounding, not bit for bit; on a GPU one batched step beats K small ones. So `auto` is on
/// when the torch device is CUDA and off on the CPU (the blessed results' bits). Part of no result key.
module Smec.Experiments.Running.EnsemblePolicy

type Policy =
    | Auto
    | On
    | Off

let names = [ "auto"; "on"; "off" ]

let parse (text: string) : Result<Policy, string> =
    match text with
    | "auto" -> Ok Auto
    | "on" -> Ok On
    | "off" -> Ok Off
    | other -> Error(sprintf "'%s'; expected one of %s" other (String.concat ", " names))

/// Whether to train ensembles under this policy on this machine's torch device.
let resolve (policy: Policy) =
    match policy with
    | On -> true
    | Off -> false
    | Auto -> Smec.Core.Runtime.TorchRuntime.Device.``type`` = TorchSharp.DeviceType.CUDA
