// A sweep built in an F# script instead of YAML: the same record `smec sweep` reads from a spec
// file, expanded into experiments keyed like the catalog's (a point equal to a catalog experiment
// reuses its cached result), run in this process, and reported with the best setting per dim
// chosen on validation. Truncation and PCA learn nothing, so this takes seconds:
//
//   SMEC_THREADS=1 dotnet fsi examples/sweep-spec.fsx      (after `make build`)
#load "../Smec.fsx"

open Smec.Core.Data.Manifests
open Smec.Experiments.Running
open Smec.Experiments.Sweeps
open Smec.Script

let spec =
    SweepSpec.create "script-sweep"
    |> SweepSpec.withDatasets [ "scifact" ]
    |> SweepSpec.withEncoders [ "all-MiniLM-L6-v2" ]
    |> SweepSpec.withMethods [ "truncation"; "pca" ]
    |> SweepSpec.withDims [ 24; 48; 96 ]
// Axes would be added the same way, e.g.
//   |> SweepSpec.withGrid [ SweepSpec.axis "smec.ads" [ true; false ]; SweepSpec.axis "learning_rate" [ 1e-3; 5e-4 ] ]

let env = Environment.standard repoRoot None (printfn "%s")
let plan = SweepPlan.expand env.Methods ManifestCatalog.Default None (Runner.keyOf env) spec
LocalExecutor.run env { Workers = 1; Threads = None; Ensemble = false } plan.Points |> ignore
let report = SweepReport.build env.ResultsDir plan
SweepReport.write (SweepFolder.folderOf env.ResultsDir spec.Name) report
printTable <|| SweepReport.bestTable report
printTable <|| SweepReport.settingsTable report
