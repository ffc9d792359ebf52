/// The verdicts at their boundaries: OK within tolerance, OK* within 1.5x, FAIL beyond in either
/// direction; published, regression and (fallback-rule) claim checks built on them.
module Smec.Tests.Catalog.StatusRulesTests

open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Verdicts
open Smec.Tests.Catalog.CatalogTestSupport

let private value v = Value(seedValues [ v ])
let private valueOfSeeds (vs: float list) = Value(seedValues vs)
/// Claims on constants have no per-query scores: the fallback rule judges them.
let private noSample : SampleSource = fun _ -> Error "constants have no per-query scores"

let private smec256 =
    Builders.cell "BEIR mean" "SMEC" "256" Display.percent (Constant 0.0)
    |> Builders.withPublished { Item = 2; Panel = "BEIR mean"; Row = "SMEC"; Encoder = "LLM2Vec-7B"; Metric = "ndcg@10"; X = 256 }

[<Tests>]
let tests =
    testList "Catalog.StatusRules" [
        testCase "judge: |delta| <= tol is OK, <= 1.5 tol is OK*, beyond is FAIL, in both directions" <| fun () ->
            let cases =
                [ 0.500, Pass; 0.510, Pass; 0.490, Pass          // exactly at the tolerance (0.01)
                  0.5101, PassNear; 0.4899, PassNear
                  0.515, PassNear; 0.485, PassNear             // exactly at 1.5x
                  0.5151, Fail; 0.4849, Fail
                  0.9, Fail; 0.1, Fail ]                       // far better is as far off as far worse
            for actual, expected in cases do
                Expect.equal (judge 0.5 actual 0.01) expected (sprintf "0.5 vs %g, tolerance 0.01" actual)

        testCase "published: tolerance = reading precision (0.5 points) + allowance (1 point) for a read nDCG value" <| fun () ->
            let table = published ()
            let check v = (Checks.published table smec256 (value v)).Value
            // Paper: 59.2. Tolerance 0.015 on the fraction scale; OK* up to 0.0225.
            Expect.equal (check 0.577).Status Pass "59.2 - 1.5 points"
            Expect.equal (check 0.5769).Status PassNear "just beyond the tolerance"
            Expect.equal (check 0.5695).Status PassNear "at 1.5x the tolerance"
            Expect.equal (check 0.569).Status Fail "beyond 1.5x"
            Expect.equal (check 0.607).Status Pass "59.2 + 1.5 points"
            Expect.equal (check 0.6145).Status PassNear "1.5x above"
            let above = check 0.892
            Expect.equal above.Status Fail "30 points above the paper is FAIL, never OK*"
            Expect.stringContains above.Note "differs from the paper (above)" "says how it differs"
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

        testCase "regression: band = max(floor, 3 SE of the difference of seed means), symmetric; another config is SKIPPED" <| fun () ->
            let cell = Builders.cell "SciFact" "SMEC" "24" Display.percent (Constant 0.0)
            let blessedSeeds (vs: float list) =
                Some { Panel = "SciFact"; Row = "SMEC"; Column = "24"; Value = List.average vs; PerSeed = vs; Seeds = [ 1L .. int64 vs.Length ]; CellHash = "h"; BlessedOn = "2026-01-01"; DataIdentity = "" }
            let single = blessedSeeds [ 0.6 ]
            Expect.equal (regression single 2 cell "h" (value 0.59)).Status Pass "at the 0.01 floor"
            Expect.equal (regression single 2 cell "h" (value 0.59)).Tolerance (Some 0.01) "floor"
            Expect.equal (regression single 2 cell "h" (value 0.589)).Status Fail "worse beyond the band"
            Expect.equal (regression single 2 cell "h" (value 0.611)).Status Improved "better beyond the band"
            // Seeds 0.58, 0.60, 0.62 (sd 0.02) on both sides: SE = sqrt(2 x 0.0004 / 3), band 3 SE = 0.0490.
            let spread = blessedSeeds [ 0.58; 0.60; 0.62 ]
            let band = 3.0 * sqrt (2.0 * 0.0004 / 3.0)
            let check v = regression spread 2 cell "h" (valueOfSeeds [ v - 0.02; v; v + 0.02 ])
            Expect.floatClose Accuracy.high (check 0.6).Tolerance.Value band "3 x SE"
            Expect.equal (check (0.6 + band - 1e-6)).Status Pass "inside the band"
            Expect.equal (check (0.6 - band - 1e-6)).Status Fail "below it"
            Expect.equal (check (0.6 + band + 1e-6)).Status Improved "above it"
            // A single current seed borrows the blessed SD: SE = sqrt(0.0004 / 3 + 0.0004 / 1).
            Expect.floatClose Accuracy.high (regression spread 2 cell "h" (value 0.6)).Tolerance.Value (3.0 * sqrt (0.0004 / 3.0 + 0.0004)) "borrowed SD"
            Expect.equal (regression single 2 cell "other" (value 0.6)).Status Skipped "blessed for another config"
            let none = regression None 2 cell "h" (value 0.6)
            Expect.equal none.Status Skipped "not blessed yet"
            Expect.stringContains none.Note "smec bless --table 2" "says how to bless"

        testCase "declared counts must match exactly" <| fun () ->
            let cell = { Builders.cell "local data" "SciFact" "docs" Display.count (Constant 0.0) with Declared = Some { Value = 5183.0; Tolerance = 0.0; Source = "test" }; HigherIsBetter = None }
            Expect.equal (declared cell (value 5183.0)).Value.Status Pass "equal"
            Expect.equal (declared cell (value 5184.0)).Value.Status Fail "one more document"

        testCase "a reference figure of a frozen baseline is checked within its tolerance, both ways" <| fun () ->
            let reference = { Value = 0.5090; Tolerance = 0.0005; Source = "reference figure" }
            let cell = { Builders.cell "SciFact" "PCA" "48" Display.percent (Constant 0.0) with Declared = Some reference }
            Expect.equal (declared cell (value 0.5093)).Value.Status Pass "within 0.0005"
            Expect.equal (declared cell (value 0.5110)).Value.Status Fail "0.002 above: a drift upwards fails too"
            Expect.equal (declared cell (value 0.5070)).Value.Status Fail "0.002 below"
            Expect.equal (declared cell (value 0.5093)).Value.Note "reference figure" "says where the figure comes from"

        testCase "claims without per-query scores: a chain holds beyond noise (OK), is within noise either way (TIE), or fails with its numbers (FAIL)" <| fun () ->
            let chainOf a b c =
                Builders.claim "t" "p" Display.percent "SMEC >= MA > PCA"
                    (Builders.chain ("SMEC", Constant a) [ AtLeast, "MA", Constant b; Greater, "PCA", Constant c ])
            let evaluate q = match q with Constant v -> value v | _ -> failwith "constants only"
            Expect.equal (claim evaluate noSample (chainOf 0.62 0.60 0.40)).Status Pass "holds"
            Expect.equal (claim evaluate noSample (chainOf 0.599 0.60 0.40)).Status Tie "SMEC 0.1 point below MA: within the 0.002 slack"
            Expect.equal (claim evaluate noSample (chainOf 0.601 0.60 0.40)).Status Tie "SMEC 0.1 point above MA: within the slack too, not a win"
            let failed = claim evaluate noSample (chainOf 0.55 0.60 0.40)
            Expect.equal failed.Status Fail "5 points below"
            Expect.stringStarts failed.Detail "SMEC 55.0 >= MA 60.0 (no interval: constants have no per-query scores" "reported with the numbers and the rule"
            Expect.stringContains failed.Detail ") FAIL; MA 60.0 > PCA 40.0" "each link with its status"
            Expect.equal (claim evaluate noSample (chainOf 0.62 0.60 0.60)).Status Tie "an equality cannot decide '>'"
            let skipped = claim (fun _ -> Gap { Failed = false; Reason = "not yet" }) noSample (chainOf 0.0 0.0 0.0)
            Expect.equal (skipped.Status, skipped.Detail) (Skipped, "not yet") "missing numbers"

        testCase "bounds: within the bound OK, within 1.5x OK*, else FAIL" <| fun () ->
            let bound v = Builders.claim "b" "p" Display.percent "spread <= 1 point" (Bound(Builders.term "spread" (Constant v), AtMost, 0.01))
            let evaluate q = match q with Constant v -> value v | _ -> failwith "constants only"
            Expect.equal (claim evaluate noSample (bound 0.01)).Status Pass "at the bound"
            Expect.equal (claim evaluate noSample (bound 0.015)).Status PassNear "1.5 points"
            Expect.equal (claim evaluate noSample (bound 0.02)).Status Fail "2 points"

        testCase "statuses combine: any FAIL fails, then IMPROVED, TIE, OK*; all SKIPPED is SKIPPED" <| fun () ->
            Expect.equal (Status.combine [ Pass; Fail; Skipped; Improved ]) (Some Fail) "fail wins"
            Expect.equal (Status.combine [ Pass; Improved; Tie ]) (Some Improved) "improved next"
            Expect.equal (Status.combine [ Pass; Tie; PassNear ]) (Some Tie) "a tie is shown"
            Expect.equal (Status.combine [ Skipped; Skipped ]) (Some Skipped) "all skipped"
            Expect.equal (Status.combine [ Pass; Skipped; PassNear ]) (Some PassNear) "OK*"
            Expect.isTrue (Status.fails Improved && Status.fails Fail) "IMPROVED and FAIL fail the check"
            Expect.isFalse (Status.fails Tie || Status.fails PassNear || Status.fails Skipped) "TIE does not"
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
