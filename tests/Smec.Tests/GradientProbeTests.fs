/// Catalog item 8's gradient probe: it produces one row per method and epoch, with sane numbers,
/// and a CSV the catalog can read.
module Smec.Tests.GradientProbeTests

open System.IO
open Expecto
open Smec.Core.Training
open Smec.Core.Analysis

[<Tests>]
let tests =
    testList "Gradient probe" [
        testCase "two epochs give MRL and SMRL rows with finite statistics and a CSV" <| fun () ->
            let rows = GradientProbe.Run(SciFactFixture.trainingData 6L, GradientProbeOptions(Epochs = 2))
            Expect.equal [ for r in rows -> r.Method, r.Epoch ] [ "MRL", 0; "MRL", 1; "SMRL", 0; "SMRL", 1 ] "rows"
            for r in rows do
                for v in [ r.MeanAbsGradShared; r.MeanAbsGradUnshared; r.GradVarianceShared; r.GradVarianceUnshared; r.MeanTrainLoss ] do
                    Expect.isTrue (System.Double.IsFinite v && v > 0.0) (sprintf "%s epoch %d: positive finite statistics" r.Method r.Epoch)
            // Same init, same batches: only the 96-d loss separates them, and it feeds the shared rows.
            let mrl0, smrl0 = rows |> Seq.find (fun r -> r.Method = "MRL"), rows |> Seq.find (fun r -> r.Method = "SMRL")
            Expect.isGreaterThan (mrl0.MeanAbsGradShared / mrl0.MeanAbsGradUnshared) (smrl0.MeanAbsGradShared / smrl0.MeanAbsGradUnshared)
                "the extra nested loss raises the shared rows' gradient relative to the unshared ones"
            use dir = new TestSupport.TempDir()
            let csv = Path.Combine(dir.Path, "probe.csv")
            GradientProbe.WriteCsv(csv, rows)
            let lines = File.ReadAllLines csv
            Expect.equal lines.Length 5 "header + 4 rows"
            Expect.stringStarts lines.[1] "MRL,0," "first row"
    ]
