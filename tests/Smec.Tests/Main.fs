/// Runs every [<Tests>] value in this assembly and ends with the one line CI counts:
/// `N passed, N failed, N skipped`.
module Smec.Tests.Main

open System
open System.IO
open Expecto
open Expecto.Impl

[<EntryPoint>]
let main argv =
    let mutable summaryLine = None
    let recordSummary (summary: TestRunSummary) =
        let failed = summary.failed.Length + summary.errored.Length
        summaryLine <- Some(sprintf "%d passed, %d failed, %d skipped" summary.passed.Length failed summary.ignored.Length)
    let printer =
        { defaultConfig.printer with
            summary = fun config summary ->
                async {
                    do! defaultConfig.printer.summary config summary
                    recordSummary summary
                } }
    // Every test's first torch operation runs at the thread count the product uses (SMEC_THREADS): torch
    // starts at the core count, and a PCA start computed before any test set the threads rounds differently
    // from one computed after (the MRL ensemble-equivalence test failed at SMEC_THREADS=1 from that alone).
    Smec.Core.Runtime.Determinism.ConfigureTorch()
    // Torch-heavy tests would oversubscribe 2 cores in parallel (docs/TOOLCHAIN.md, "Trap 4"): run sequenced.
    let exitCode =
        runTestsInAssemblyWithCLIArgs [ CLIArguments.Sequenced; CLIArguments.Printer printer ] argv
    // Expecto's console wrapper pads and colours lines; write the count to the raw stream, last.
    Console.Out.Flush()
    use raw = new StreamWriter(Console.OpenStandardOutput())
    // Expecto leaves a colour reset without a newline; end that line first.
    raw.WriteLine()
    raw.WriteLine(defaultArg summaryLine "0 passed, 1 failed, 0 skipped")
    exitCode
