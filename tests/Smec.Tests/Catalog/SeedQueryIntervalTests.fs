/// Intervals that include seed variance: Student's t against tabulated quantiles, the coverage of
/// the seed-and-query interval by simulation (and the under-coverage of the seed-averaged one it
/// replaced), Holm's levels against the step-down procedure, and claims whose seeds disagree.
module Smec.Tests.Catalog.SeedQueryIntervalTests

open System
open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Verdicts
open Smec.Experiments.Verdicts.Quantities
open Smec.Tests.Catalog.CatalogTestSupport

/// A normal draw (Box-Muller) from a seeded stream.
let private normal (random: Random) (mean: float) (sd: float) =
    let u1 = 1.0 - random.NextDouble()
    let u2 = random.NextDouble()
    mean + sd * sqrt (-2.0 * log u1) * cos (2.0 * Math.PI * u2)

let private trained (methodKey: string) = scifactConfig methodKey true [ 24 ]
let private measure c = Measure(c, Builders.ndcgAt 24)

/// One simulated experiment: method A's and B's per-query scores at S seeds on Q queries, from a
/// model with a query effect shared by both methods, a per-query method effect (mean `difference`),
/// a per-seed shift of each method's whole run (sd `seedSd`) and per-(seed, query) noise.
let private simulate (random: Random) (queries: int) (seeds: int) (difference: float) (seedSd: float) =
    let queryEffect = Array.init queries (fun _ -> normal random 0.5 0.15)
    let methodEffect = Array.init queries (fun _ -> normal random difference 0.05)
    let runs (effect: int -> float) =
        Array.init seeds (fun _ ->
            let shift = normal random 0.0 seedSd
            Array.init queries (fun q -> queryEffect.[q] + effect q + shift + normal random 0.0 0.03))
    let a, b = trained "a", trained "b"
    VerdictTests.sampleOfRuns [ a, runs (fun q -> methodEffect.[q]); b, runs (fun _ -> 0.0) ], Difference(measure a, measure b)

/// The share of `experiments` simulated intervals of each kind that contain the true difference.
let private coverage (experiments: int) (seedSd: float) =
    let random = Random(20261207)
    let truth = 0.02
    let mutable seedQuery, closedForm, seedAveraged = 0, 0, 0
    for e in 1 .. experiments do
        let sample, difference = simulate random 60 5 truth seedSd
        let f = match onDraws sample difference with Ok f -> f | Error why -> failtest why
        let value draw = match f draw with Ok v -> v | Error g -> failtest g.Reason
        let both = Bootstrap.seedQueryInterval e 400 sample.Sizes sample.SeedCounts value
        // What the harness computes for a difference: the same interval with each level's variance in closed form.
        let linear =
            match linearParts sample difference with
            | Ok(Some l) -> Bootstrap.linearSeedQueryInterval l sample.SeedCounts
            | other -> failtestf "a difference is linear: %A" other
        let averaged = Bootstrap.interval e 400 sample.Sizes (fun d -> value (Bootstrap.Queries d))
        if both.Low <= truth && truth <= both.High then seedQuery <- seedQuery + 1
        if linear.Low <= truth && truth <= linear.High then closedForm <- closedForm + 1
        if averaged.Low <= truth && truth <= averaged.High then seedAveraged <- seedAveraged + 1
    let share n = float n / float experiments
    // The figures docs/STATISTICS.md quotes: printed so a run of the test shows them.
    printfn "coverage at seed sd %g over %d experiments: seed-and-query %.3f (closed form %.3f), seed-averaged %.3f"
        seedSd experiments (share seedQuery) (share closedForm) (share seedAveraged)
    share seedQuery, share closedForm, share seedAveraged

[<Tests>]
let tests =
    testSequenced <| testList "Catalog.SeedQueryInterval" [
        testCase "Student t: quantiles match the printed tables, the cdf inverts them and is symmetric" <| fun () ->
            // Two-sided 95% critical values (Fisher and Yates; any statistics text).
            for df, expected in [ 1.0, 12.7062; 2.0, 4.3027; 4.0, 2.7764; 10.0, 2.2281; 30.0, 2.0423; 1e9, 1.9600 ] do
                Expect.floatClose { absolute = 1e-4; relative = 0.0 } (StudentT.quantile df 0.975) expected (sprintf "t(%g) 97.5%%" df)
            for df in [ 1.5; 3.0; 8.7; 120.0 ] do
                for t in [ -3.0; -0.4; 0.0; 1.1; 5.0 ] do
                    Expect.floatClose Accuracy.high (StudentT.cdf df t + StudentT.cdf df (-t)) 1.0 "symmetric"
                    Expect.floatClose { absolute = 1e-6; relative = 1e-6 } (StudentT.quantile df (StudentT.cdf df t)) t "quantile inverts cdf"

        testCase "coverage: with seed noise the seed-and-query interval (resampled and in closed form) covers the truth 93-97% of 1,000 experiments; the seed-averaged one does not" <| fun () ->
            let both, closedForm, averaged = coverage 1000 0.02
            for name, share in [ "seed-and-query", both; "closed form", closedForm ] do
                Expect.isGreaterThanOrEqual share 0.93 (sprintf "%s coverage %.3f" name share)
                Expect.isLessThanOrEqual share 0.97 (sprintf "%s coverage %.3f" name share)
            // Averaging seeds per query first leaves the seed shift of each method out of the interval.
            Expect.isLessThan averaged 0.85 (sprintf "seed-averaged coverage %.3f undercovers" averaged)

        testCase "coverage: without a seed shift both intervals cover about 95% (the seed level adds nothing spurious)" <| fun () ->
            let both, closedForm, averaged = coverage 1000 0.0
            for name, share in [ "seed-and-query", both; "closed form", closedForm ] do
                Expect.isGreaterThanOrEqual share 0.93 (sprintf "%s coverage %.3f" name share)
                Expect.isLessThanOrEqual share 0.97 (sprintf "%s coverage %.3f" name share)
            Expect.isGreaterThanOrEqual averaged 0.92 (sprintf "seed-averaged coverage %.3f" averaged)

        testCase "seeds that disagree widen the interval; one seed adds no seed level" <| fun () ->
            let random = Random(5)
            let queries = Array.init 80 (fun _ -> random.NextDouble())
            let a, b = trained "a", trained "b"
            let intervalOf (aRuns: float[][]) =
                let sample = VerdictTests.sampleOfRuns [ a, aRuns; b, Array.init aRuns.Length (fun _ -> queries) ]
                let f = match onDraws sample (Difference(measure a, measure b)) with Ok f -> f | Error e -> failtest e
                Bootstrap.seedQueryInterval 3 2000 sample.Sizes sample.SeedCounts (fun d -> match f d with Ok v -> v | Error _ -> nan)
            let shifted by = queries |> Array.map (fun x -> x + 0.05 + by)
            let agree = intervalOf [| for _ in 1 .. 5 -> shifted 0.0 |]
            let disagree = intervalOf [| for s in [ -0.04; -0.02; 0.0; 0.02; 0.04 ] -> shifted s |]
            Expect.floatClose Accuracy.high agree.Estimate disagree.Estimate "same seed mean"
            Expect.isGreaterThan (disagree.High - disagree.Low) (2.0 * (agree.High - agree.Low)) "disagreeing seeds: a wider interval"
            Expect.isLessThan disagree.Df 10.0 "few seeds: few degrees of freedom"
            let single = intervalOf [| shifted 0.04 |]
            Expect.equal single.Seeds 1 "one seed"
            Expect.floatClose Accuracy.high single.Df 79.0 "queries alone: Q - 1 degrees of freedom"

        testCase "a linear statistic's closed-form interval is the resampled one's limit: equal estimate, SE within Monte Carlo error, exact variance on a hand case" <| fun () ->
            let random = Random(11)
            let a, b, pca = trained "a", trained "b", scifactConfig "pca" false [ 24 ]
            let runs shift seeds = Array.init seeds (fun s -> Array.init 40 (fun q -> 0.3 + 0.01 * float q + shift + 0.02 * float s + 0.05 * random.NextDouble()))
            let sample = VerdictTests.sampleOfRuns [ a, runs 0.05 5; b, runs 0.0 5; pca, runs -0.1 1 ]
            // A difference, and a mean that reads a measurement twice and an untrained one.
            for q in [ Difference(measure a, measure b); Mean [ measure a; measure a; Measure(pca, Builders.ndcgAt 24); Constant 0.1 ] ] do
                let f = match onDraws sample q with Ok f -> f | Error e -> failtest e
                let resampled = Bootstrap.seedQueryInterval 7 40000 sample.Sizes sample.SeedCounts (fun d -> match f d with Ok v -> v | Error _ -> nan)
                let closed = match linearParts sample q with Ok(Some l) -> Bootstrap.linearSeedQueryInterval l sample.SeedCounts | other -> failtestf "linear: %A" other
                Expect.floatClose Accuracy.high closed.Estimate resampled.Estimate (sprintf "%A: the observed value" q)
                Expect.floatClose { absolute = 0.0; relative = 0.02 } closed.StandardError resampled.StandardError (sprintf "%A: SE within 2%% of 40,000 resamples'" q)
                Expect.floatClose { absolute = 0.0; relative = 0.05 } closed.Df resampled.Df (sprintf "%A: degrees of freedom" q)
                Expect.equal closed.Resamples 0 "closed form: no resamples"
            // By hand: one group of queries [0; 1; 2; 5] (popvar 3.5, over 4 queries: 0.875), one experiment's
            // seeds [1; 3] (unbiased variance 2, over 2 seeds: 1); SE = sqrt 1.875.
            let hand = Bootstrap.linearSeedQueryInterval { Observed = 2.0; QueryTerms = [| [| 0.0; 1.0; 2.0; 5.0 |] |]; SeedTerms = [| [| 1.0; 3.0 |] |] } [| 2 |]
            Expect.floatClose Accuracy.veryHigh hand.StandardError (sqrt 1.875) "SE by hand"
            Expect.isNone (match linearParts sample (Ratio(measure a, measure b)) with Ok l -> l | Error e -> failtest e) "a ratio is not linear: resampled"

        testCase "Holm's levels reject exactly what the step-down procedure rejects" <| fun () ->
            let random = Random(9)
            for _ in 1 .. 300 do
                let m = 1 + random.Next(12)
                let ps = List.init m (fun _ -> if random.NextDouble() < 0.5 then random.NextDouble() * 0.02 else random.NextDouble())
                let levels = Bootstrap.holmLevels 0.05 ps
                let byLevel = List.map2 (fun p level -> p <= 1.0 - level) ps levels
                Expect.equal byLevel (Bootstrap.holm 0.05 ps) (sprintf "p = %A" ps)

        testCase "an adjusted interval is judged at its Holm level: a 95% win can become a TIE among many comparisons" <| fun () ->
            // p about 0.03: decided alone at 95%, not at Holm's first level 1 - 0.05/4 among four.
            let interval: Bootstrap.Interval =
                { Estimate = 0.02; Low = 0.0; High = 0.0; Level = 0.95; Resamples = 1; Queries = 100; Seeds = 5
                  PValue = 0.0; StandardError = 0.0092; Df = 99.0 }
            let at95 = Bootstrap.atLevel 0.95 interval
            Expect.isGreaterThan at95.Low 0.0 "95%: above 0"
            let p = Bootstrap.pValueAgainst 0.0 interval
            Expect.isLessThan p 0.05 "p below 5%"
            let level = (Bootstrap.holmLevels 0.05 [ p; 0.5; 0.6; 0.7 ]).Head
            Expect.floatClose Accuracy.veryHigh level (1.0 - 0.05 / 4.0) "first of four: 1 - 0.05/4"
            Expect.isLessThan (Bootstrap.atLevel level interval).Low 0.0 "adjusted: contains 0"

        testCase "pairwise matrix: every pair of trained methods and PCA at a cell a claim reads, not only the claim's adjacent links" <| fun () ->
            let random = Random(17)
            let base' = Array.init 50 (fun _ -> random.NextDouble())
            let methods = [ Profiles.truncation, -0.3; Profiles.pca, -0.1; Profiles.mrl, 0.0; Profiles.searchAdaptor, 0.05; Profiles.smec, 0.02 ]
            let configOf (m: Profiles.MethodSpec) = scifactConfig m.Key m.Trains [ 24 ]
            let runsOf (m: Profiles.MethodSpec) shift =
                let seeds = if m.Trains then 3 else 1
                Array.init seeds (fun s -> base' |> Array.map (fun x -> x + shift + 0.01 * float s + 0.02 * (random.NextDouble() - 0.5)))
            let sample = VerdictTests.sampleOfRuns [ for m, shift in methods -> configOf m, runsOf m shift ]
            let cells =
                [ for m, _ in methods -> Builders.cell "SciFact" m.Row "24" Display.percent (measure (configOf m)) ]
            let claim =
                Builders.claim "1 @24" "SciFact" Display.percent "SMEC >= Search-Adaptor"
                    (Builders.chain (Profiles.smec.Row, measure (configOf Profiles.smec)) [ AtLeast, Profiles.searchAdaptor.Row, measure (configOf Profiles.searchAdaptor) ])
            let spec =
                { reducedTable [] [ 24 ] [ 1L; 2L; 3L ] [ claim ] with
                    Panels = [ "SciFact" ]; Rows = methods |> List.map (fun (m, _) -> m.Row); Cells = cells }
            let matrices = Pairwise.matrices spec (fun _ -> Ok sample)
            Expect.equal (matrices |> List.map (fun m -> m.Panel, m.Column)) [ "SciFact", "24" ] "one matrix, at the claim's cell"
            let matrix = matrices.Head
            Expect.equal matrix.Rows [ Profiles.pca.Row; Profiles.mrl.Row; Profiles.searchAdaptor.Row; Profiles.smec.Row ] "trained methods and PCA, not truncation"
            let pairs = match matrix.Pairs with Ok p -> p | Error e -> failtest e
            Expect.equal pairs.Length 6 "every pair of four"
            let smecMrl = pairs |> List.find (fun p -> p.RowA = Profiles.mrl.Row && p.RowB = Profiles.smec.Row)
            Expect.floatClose { absolute = 0.005; relative = 0.0 } smecMrl.Interval.Estimate -0.02 "MRL - SMEC, a pair no claim links"
            for p in pairs do
                Expect.isLessThanOrEqual p.Adjusted.Low p.Interval.Low "Holm is at least as wide"
                Expect.isGreaterThanOrEqual p.Adjusted.High p.Interval.High "Holm is at least as wide"
            let _, header, rows = Pairwise.tableOf matrix
            Expect.equal header.Length 5 "corner + four methods"
            Expect.stringContains (rows.[1].[4]) "[" "MRL row, SMEC column: an interval"
    ]
