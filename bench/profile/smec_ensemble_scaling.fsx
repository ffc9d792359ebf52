// How the time per member of SMEC's batched step (the `smec bench --only ensembles` case) grows with
// the number of members K: if it is flat, the ensemble scales; if it jumps at one K, the working set
// left a cache; if it grows steadily, something costs K^2. ms per step, best and median of REPEAT
// runs of STEPS steps, per K. Random unit vectors: speed only.
//   SMEC_THREADS=1 dotnet fsi bench/profile/smec_ensemble_scaling.fsx [K,K,...] [STEPS] [REPEAT]   (after make build)
#load "../../Smec.fsx"
open System
open Smec.Experiments.Bench
let args = fsi.CommandLineArgs |> Array.skip 1
let counts = if args.Length > 0 then args.[0].Split(',') |> Array.map int else [| 1; 4; 8; 12; 16; 24; 32 |]
let steps = if args.Length > 1 then int args.[1] else 5
let repeat = if args.Length > 2 then int args.[2] else 3
let key = if args.Length > 3 then args.[3] else "smec"
printfn "| K | ms per step (best) | median | ms per member (best) |"
printfn "|---:|---:|---:|---:|"
for k in counts do
    let case = BenchEnsembleSteps.build key k 1L
    try
        case.Step() |> ignore   // warm-up
        let times =
            [| for _ in 1 .. repeat ->
                   let clock = Diagnostics.Stopwatch.StartNew()
                   for _ in 1 .. steps do case.Step() |> ignore
                   clock.Elapsed.TotalMilliseconds / float steps |] |> Array.sort
        printfn "| %d | %.1f | %.1f | %.2f |" k times.[0] times.[times.Length / 2] (times.[0] / float k)
    finally case.Dispose()
