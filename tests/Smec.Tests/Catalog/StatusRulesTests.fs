/// The verdicts at their boundaries: OK within tolerance, OK* within 1.5x or better than expected,
/// FAIL beyond; published, regression and claim checks built on them.
module Smec.Tests.Catalog.StatusRulesTests

open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.Checks
open Smec.Experiments.Running.Quantities
open Smec.Tests.Catalog.CatalogTestSupport

let private value v = Value { Mean = v; Spread = 0.0; PerSeed = [ v ] }
let private valueWithSpread v spread = Value { Mean = v; Spread = spread; PerSeed = [ v - spread / 2.0; v + spread / 2.0 ] }

let private smec256 =
    Builders.cell "BEIR mean" "SMEC" "256" Display.percent (Constant 0.0)
    |> Builders.withPublished { Item = 2; Panel = "BEIR mean"; Row = "SMEC"; Encoder = "LLM2Vec-7B"; Metric = "ndcg@10"; X = 256 }

[<Tests>]
let tests =
    testList "Catalog.StatusRules" [
        testCase "judge: |delta| <= tol is OK, <= 1.5 tol is OK*, beyond is FAIL (both directions when higher is not better)" <| fun () ->
            let cases =
                [ 0.500, Ok; 0.510, Ok; 0.490, Ok          // exactly at the tolerance (0.01)
                  0.5101, OkStar; 0.4899, OkStar
                  0.515, OkStar; 0.485, OkStar             // exactly at 1.5x
                  0.5151, Fail; 0.4849, Fail ]
            for actual, expected in cases do
                Expect.equal (judge 0.5 actual 0.01 None) expected (sprintf "0.5 vs %g, tolerance 0.01" actual)

        testCase "judge: better than expected is OK* however far, when higher is better; worse is still FAIL" <| fun () ->
            Expect.equal (judge 0.5 0.9 0.01 (Some true)) OkStar "far better"
            Expect.equal (judge 0.5 0.51 0.01 (Some true)) Ok "within tolerance stays OK"
            Expect.equal (judge 0.5 0.3 0.01 (Some true)) Fail "far worse"

        testCase "published: tolerance = reading precision (0.5 points) + allowance (1 point) for a read nDCG value" <| fun () ->
            let table = published ()
            let check v = (Checks.published table smec256 (value v)).Value
            // Paper: 59.2. Tolerance 0.015 on the fraction scale; OK* up to 0.0225.
            Expect.equal (check 0.577).Status Ok "59.2 - 1.5 points"
            Expect.equal (check 0.5769).Status OkStar "just beyond the tolerance"
            Expect.equal (check 0.5695).Status OkStar "at 1.5x the tolerance"
            Expect.equal (check 0.569).Status Fail "beyond 1.5x"
            Expect.equal (check 0.70).Status OkStar "better than the paper"
            let c = check 0.58
            Expect.floatClose Accuracy.veryHigh c.Expected.Value 0.592 "expected on the harness's scale"
            Expect.floatClose Accuracy.veryHigh c.Tolerance.Value 0.015 "tolerance on the harness's scale"
            Expect.floatClose Accuracy.veryHigh c.Delta.Value -0.012 "delta = actual - expected"

        testCase "published: a cell that cannot run is SKIPPED and still shows the paper's value" <| fun () ->
            let c = (Checks.published (published ()) smec256 (Gap { Failed = false; Reason = "needs LLM2Vec-7B embeddings" })).Value
            Expect.equal c.Status Skipped "skipped"
            Expect.floatClose Accuracy.veryHigh c.Expected.Value 0.592 "with the published value"
            Expect.stringContains c.Note "needs LLM2Vec-7B embeddings" "says why"
            let failed = (Checks.published (published ()) smec256 (Gap { Failed = true; Reason = "boom" })).Value
            Expect.equal failed.Status Fail "an experiment that threw is a FAIL"

        testCase "regression: tolerance = max(0.002, blessed spread, current spread); another config is SKIPPED" <| fun () ->
            let cell = Builders.cell "SciFact" "SMEC" "24" Display.percent (Constant 0.0)
            let blessed spread = Some { Panel = "SciFact"; Row = "SMEC"; Column = "24"; Value = 0.6; Spread = spread; Seeds = [ 1L ]; CellHash = "h"; BlessedOn = "2026-01-01"; DataIdentity = "" }
            Expect.equal (regression (blessed 0.0) 2 cell "h" (value 0.598)).Status Ok "at the 0.002 floor"
            Expect.equal (regression (blessed 0.0) 2 cell "h" (value 0.5975)).Status OkStar "within 1.5x the floor"
            Expect.equal (regression (blessed 0.0) 2 cell "h" (value 0.5975)).Tolerance (Some 0.002) "floor"
            Expect.equal (regression (blessed 0.0) 2 cell "h" (value 0.596)).Status Fail "beyond"
            Expect.equal (regression (blessed 0.01) 2 cell "h" (value 0.591)).Status Ok "the blessed seed spread widens it"
            Expect.equal (regression (blessed 0.0) 2 cell "h" (valueWithSpread 0.591 0.01)).Status Ok "so does the current spread"
            Expect.equal (regression (blessed 0.0) 2 cell "other" (value 0.6)).Status Skipped "blessed for another config"
            let none = regression None 2 cell "h" (value 0.6)
            Expect.equal none.Status Skipped "not blessed yet"
            Expect.stringContains none.Note "smec bless --table 2" "says how to bless"

        testCase "declared counts must match exactly" <| fun () ->
            let cell = { Builders.cell "local data" "SciFact" "docs" Display.count (Constant 0.0) with Declared = Some 5183.0; HigherIsBetter = None }
            Expect.equal (declared cell (value 5183.0)).Value.Status Ok "equal"
            Expect.equal (declared cell (value 5184.0)).Value.Status Fail "one more document"

        testCase "claims: a chain holds (OK), misses within noise (OK*), or fails with its numbers (FAIL)" <| fun () ->
            let chainOf a b c =
                Builders.claim "t" "p" Display.percent "SMEC >= MA > PCA"
                    (Builders.chain ("SMEC", Constant a) [ AtLeast, "MA", Constant b; Greater, "PCA", Constant c ])
            let evaluate q = match q with Constant v -> value v | _ -> failwith "constants only"
            Expect.equal (claim evaluate (chainOf 0.62 0.60 0.40)).Status Ok "holds"
            Expect.equal (claim evaluate (chainOf 0.599 0.60 0.40)).Status OkStar "SMEC 0.1 point below MA: within the 0.002 slack"
            let failed = claim evaluate (chainOf 0.55 0.60 0.40)
            Expect.equal failed.Status Fail "5 points below"
            Expect.equal failed.Detail "SMEC 55.0 >= (violated) MA 60.0 > PCA 40.0" "reported with the numbers"
            Expect.equal (claim evaluate (chainOf 0.62 0.60 0.60)).Status OkStar "a tie breaks '>' only within noise"
            let skipped = claim (fun _ -> Gap { Failed = false; Reason = "not yet" }) (chainOf 0.0 0.0 0.0)
            Expect.equal (skipped.Status, skipped.Detail) (Skipped, "not yet") "missing numbers"

        testCase "bounds: within the bound OK, within 1.5x OK*, else FAIL" <| fun () ->
            let bound v = Builders.claim "b" "p" Display.percent "spread <= 1 point" (Bound(Builders.term "spread" (Constant v), AtMost, 0.01))
            let evaluate q = match q with Constant v -> value v | _ -> failwith "constants only"
            Expect.equal (claim evaluate (bound 0.01)).Status Ok "at the bound"
            Expect.equal (claim evaluate (bound 0.015)).Status OkStar "1.5 points"
            Expect.equal (claim evaluate (bound 0.02)).Status Fail "2 points"

        testCase "statuses combine: any FAIL fails, all SKIPPED is SKIPPED, else the weaker of OK / OK*" <| fun () ->
            Expect.equal (Status.combine [ Ok; Fail; Skipped ]) (Some Fail) "fail wins"
            Expect.equal (Status.combine [ Skipped; Skipped ]) (Some Skipped) "all skipped"
            Expect.equal (Status.combine [ Ok; Skipped; OkStar ]) (Some OkStar) "OK*"
            Expect.equal (Status.combine []) None "no checks"

        testCase "quantities: mean over datasets, lossless factor = full / smallest d matching the frozen encoder" <| fun () ->
            let lookup _ = None
            let at q = atSeed lookup 1L q
            match at (Mean [ Constant 0.2; Constant 0.4 ]) with
            | Result.Ok v -> Expect.floatClose Accuracy.veryHigh v 0.3 "mean"
            | other -> failtestf "expected a value, got %A" other
            let factor = LosslessFactor(384, Constant 0.64, [ 24, Constant 0.60; 48, Constant 0.65; 96, Constant 0.70; 384, Constant 0.80 ])
            Expect.equal (at factor) (Result.Ok 8.0) "384 / 48"
            Expect.equal (at (LosslessFactor(384, Constant 0.9, [ 24, Constant 0.6; 384, Constant 0.8 ]))) (Result.Ok 0.0) "never lossless: 0"
            match at (Mean [ Constant 0.2; Unavailable "needs X" ]) with
            | Result.Error gap -> Expect.equal gap.Reason "needs X" "a missing part makes the whole missing"
            | other -> failtestf "expected a gap, got %A" other
    ]
