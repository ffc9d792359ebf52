/// `smec version`: what this build is made of and what it resolved on this machine.
module Smec.Experiments.Cli.VersionCommand

open TorchSharp
open Smec.Core.Data
open Smec.Core.Runtime

let run () : int =
    Determinism.ConfigureTorch()
    printfn "smec (SMEC reproduction harness)"
    for KeyValue (name, version) in BuildInfo.PackageVersions() do
        printfn "  %-26s %s" name version
    printfn "  %-26s %d (%s)" "torch threads" (torch.get_num_threads ()) (
        match System.Environment.GetEnvironmentVariable Determinism.ThreadsVariable with
        | null | "" -> "cores; set SMEC_THREADS to override"
        | v -> sprintf "SMEC_THREADS=%s" v)
    printfn "  %-26s %s" "torch device" (string TorchRuntime.Device)
    let struct (policy, fromUser) = OpenMpEnvironment.WaitPolicy
    printfn "  %-26s %s (%s)" "OpenMP wait policy" policy (if fromUser then "OMP_WAIT_POLICY from the environment" else "the program's default; set OMP_WAIT_POLICY to override")
    printfn "  %-26s %s" "native heap" (NativeHeap.Describe())
    match Option.ofObj (DataRoot.TryResolve()) with
    | Some root -> printfn "  %-26s %s (%s)" "data mirror" root.Path root.Rule
    | None ->
        let looked = DataRoot.Candidates() |> Seq.map (fun c -> c.Path) |> String.concat ", "
        printfn "  %-26s none found (looked in: %s)" "data mirror" (if looked = "" then "-" else looked)
    printfn "  %-26s %s" "user cache" (DataRoot.UserCache())
    0
