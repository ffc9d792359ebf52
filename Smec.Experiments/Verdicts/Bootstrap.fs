/// Intervals over per-query scores. Two levels of noise stand behind a trained method's number: which
/// queries were judged (the test collection is a sample of queries) and which seeds trained it (a
/// training run is a sample of runs). The paired bootstrap over queries (Smucker, Allan and
/// Carterette 2007; Sakai 2014) resamples queries with replacement within each group (a group = one
/// dataset's test queries), the same resampled ids for every system compared; averaging each query's
/// scores over seeds first hides the seed level. `seedQueryInterval` adds it: the variance of the
/// statistic is estimated per level by bootstrap (queries resampled with seeds averaged; seeds
/// resampled per trained experiment with queries fixed, bias-corrected by S/(S-1)), summed, and the
/// interval is estimate +- t x SE with Satterthwaite's degrees of freedom (docs/STATISTICS.md,
/// "Seeds and queries"). The query-only percentile `interval` is kept as the seed-averaged
/// reference the coverage simulation compares against.
module Smec.Experiments.Verdicts.Bootstrap

open System

/// Resamples per interval: 10,000 (1,000 is the minimum the literature accepts; 10,000 costs
/// well under a second per comparison here).
let DefaultResamples = 10000

/// One fixed seed for every interval, so a report's intervals are reproducible to the digit.
let DefaultSeed = 20261129

/// The confidence level of every interval.
let Level = 0.95

type Interval =
    { /// The statistic on the original sample (every query and every seed once).
      Estimate: float
      Low: float
      High: float
      /// The confidence level of [Low, High] (0.95 unless adjusted for many comparisons).
      Level: float
      Resamples: int
      /// Query units resampled (summed over groups).
      Queries: int
      /// Seeds per trained experiment behind the statistic (0: nothing trained; 1: no seed level).
      Seeds: int
      /// Two-sided p-value of "the statistic is 0" (Holm's procedure reads it).
      PValue: float
      /// Standard error (seed and query levels summed for seedQueryInterval; the resamples' SD for
      /// the percentile interval).
      StandardError: float
      /// Degrees of freedom of the t quantile (infinity for the percentile interval).
      Df: float }

/// The p-quantile of sorted values (type 7: h = (n - 1) p, linear between neighbours).
let quantile (sorted: float[]) (p: float) =
    if sorted.Length = 0 then invalidArg "sorted" "no values"
    let h = float (sorted.Length - 1) * p
    let lower = int (floor h)
    let upper = min (sorted.Length - 1) (lower + 1)
    sorted.[lower] + (h - float lower) * (sorted.[upper] - sorted.[lower])

/// Sample variance (n - 1) of the values.
let private sampleVariance (values: float[]) =
    let mean = Array.average values
    (values |> Array.sumBy (fun v -> (v - mean) * (v - mean))) / float (values.Length - 1)

/// The seed-averaged percentile interval of `statistic`, which reads, for every group, the indices of the queries drawn
/// (each in 0 .. size - 1; the identity draw gives the estimate).
let interval (seed: int) (resamples: int) (groupSizes: int[]) (statistic: int[][] -> float) : Interval =
    if resamples < 1 then invalidArg "resamples" (sprintf "need at least 1 resample, got %d" resamples)
    match groupSizes |> Array.tryFindIndex (fun n -> n < 1) with
    | Some g -> invalidArg "groupSizes" (sprintf "group %d has no queries" g)
    | None -> ()
    let identity = groupSizes |> Array.map (fun n -> Array.init n id)
    let estimate = statistic identity
    let random = Random(seed)
    let draws = groupSizes |> Array.map (fun n -> Array.zeroCreate<int> n)
    let values = Array.zeroCreate<float> resamples
    for b in 0 .. resamples - 1 do
        for g in 0 .. draws.Length - 1 do
            let d = draws.[g]
            for i in 0 .. d.Length - 1 do d.[i] <- random.Next(d.Length)
        values.[b] <- statistic draws
    Array.sortInPlace values
    let below = values |> Array.filter (fun v -> v <= 0.0) |> Array.length
    let above = values |> Array.filter (fun v -> v >= 0.0) |> Array.length
    let alpha = 1.0 - Level
    { Estimate = estimate
      Low = quantile values (alpha / 2.0)
      High = quantile values (1.0 - alpha / 2.0)
      Level = Level
      Resamples = resamples
      Queries = Array.sum groupSizes
      Seeds = 0
      PValue = min 1.0 (2.0 * float (min below above) / float resamples)
      StandardError = sampleVariance values |> sqrt
      Df = infinity }

/// The paired interval of the mean difference a - b over one set of queries (a convenience for
/// the common case, and what the tests compare with a naive implementation).
let meanDifference (seed: int) (resamples: int) (a: float[]) (b: float[]) =
    if a.Length <> b.Length then invalidArg "b" (sprintf "paired scores need equal lengths (%d vs %d)" a.Length b.Length)
    let differences = Array.map2 (-) a b
    interval seed resamples [| differences.Length |] (fun draws ->
        let d = draws.[0]
        let mutable sum = 0.0
        for i in d do sum <- sum + differences.[i]
        sum / float d.Length)

/// Holm's step-down procedure: which of the p-values are rejected at family-wise level alpha.
let holm (alpha: float) (pValues: float list) : bool list =
    let m = pValues.Length
    let order = pValues |> List.mapi (fun i p -> i, p) |> List.sortBy snd
    let rejected = Array.create m false
    let rec step k rest =
        match rest with
        | (i, p) :: tail when p <= alpha / float (m - k) ->
            rejected.[i] <- true
            step (k + 1) tail
        | _ -> ()
    step 0 order
    List.ofArray rejected

// ---- seeds and queries ----------------------------------------------------------------------------

/// One resample of one level: the other level stays as observed.
type Draw =
    /// Every query and every seed once: the estimate.
    | Observed
    /// Per group, the query indices drawn; each query's score is its mean over the experiment's seeds.
    | Queries of int[][]
    /// Per trained experiment, the seed indices drawn; every query once.
    | Seeds of int[][]

/// The two-sided p-value of "the statistic equals `bound`" under the interval's t approximation.
let pValueAgainst (bound: float) (i: Interval) =
    if i.StandardError = 0.0 then (if i.Estimate = bound then 1.0 else 0.0)
    else 2.0 * (1.0 - StudentT.cdf i.Df (abs (i.Estimate - bound) / i.StandardError))

/// The same interval at another confidence level (Holm's adjusted levels): estimate +- t x SE.
let atLevel (level: float) (i: Interval) =
    let half = if i.StandardError = 0.0 then 0.0 else StudentT.quantile i.Df (1.0 - (1.0 - level) / 2.0) * i.StandardError
    { i with Low = i.Estimate - half; High = i.Estimate + half; Level = level }

/// The interval from its variance parts, (variance, degrees of freedom) each: estimate +- t x SE.
let private fromParts (estimate: float) (resamples: int) (queries: int) (seedCounts: int[]) (parts: (float * float) list) =
    let variance = parts |> List.sumBy fst
    let df =
        let denominator = parts |> List.sumBy (fun (v, d) -> if d > 0.0 then v * v / d else 0.0)
        if denominator = 0.0 then infinity else variance * variance / denominator
    let interval =
        { Estimate = estimate; Low = estimate; High = estimate; Level = Level; Resamples = resamples; Queries = queries
          Seeds = (if seedCounts.Length = 0 then 0 else Array.min seedCounts); PValue = 1.0
          StandardError = sqrt variance; Df = df }
    { atLevel Level interval with PValue = pValueAgainst 0.0 interval }

/// The interval of `statistic` with both levels of noise. `seedCounts`: the seeds of each trained
/// experiment the statistic reads (an untrained method has none to resample and is not listed).
/// Var = Var_queries + sum over experiments of Var_seeds(e) x S_e/(S_e - 1): each experiment's seeds
/// are resampled alone (training runs of different experiments are independent), and the bootstrap
/// variance of a mean of S values is (S-1)/S of its unbiased estimate. The t quantile's degrees of
/// freedom come from Welch-Satterthwaite over the parts (Q - 1 for queries, S_e - 1 for each
/// experiment). With one seed an experiment's seed level is unknown and adds nothing (a quick run
/// says so in its label).
let seedQueryInterval (seed: int) (resamples: int) (groupSizes: int[]) (seedCounts: int[]) (statistic: Draw -> float) : Interval =
    if resamples < 2 then invalidArg "resamples" (sprintf "need at least 2 resamples, got %d" resamples)
    match groupSizes |> Array.tryFindIndex (fun n -> n < 1) with
    | Some g -> invalidArg "groupSizes" (sprintf "group %d has no queries" g)
    | None -> ()
    let estimate = statistic Observed
    let random = Random(seed)
    let queryDraws = groupSizes |> Array.map (fun n -> Array.zeroCreate<int> n)
    let queryValues =
        Array.init resamples (fun _ ->
            for d in queryDraws do
                for i in 0 .. d.Length - 1 do d.[i] <- random.Next(d.Length)
            statistic (Queries queryDraws))
    let queries = Array.sum groupSizes
    // (variance, degrees of freedom) of each part.
    let queryPart = sampleVariance queryValues, float (queries - 1)
    let seedParts =
        [ for e in 0 .. seedCounts.Length - 1 do
              let count = seedCounts.[e]
              if count > 1 then
                  let draws = seedCounts |> Array.map (fun n -> Array.init n id)
                  let values =
                      Array.init resamples (fun _ ->
                          let d = draws.[e]
                          for i in 0 .. d.Length - 1 do d.[i] <- random.Next(d.Length)
                          statistic (Seeds draws))
                  yield sampleVariance values * float count / float (count - 1), float (count - 1) ]
    fromParts estimate resamples queries seedCounts (queryPart :: seedParts)

/// A statistic that is a weighted sum of measurement means (a difference of two methods, a mean over
/// datasets): its per-query and per-seed contributions (Quantities.linearParts).
type LinearStatistic =
    { /// The statistic on the observed sample.
      Observed: float
      /// Per group, each query's contribution (seeds averaged): the statistic is the sum over groups
      /// of the mean of these over the group's queries.
      QueryTerms: float[][]
      /// Per trained experiment, each seed's contribution (queries averaged): what resampling that
      /// experiment's seeds moves.
      SeedTerms: float[][] }

/// seedQueryInterval's interval for a linear statistic, with each level's bootstrap variance in closed
/// form: the variance of a mean of n values drawn with replacement from x is popvar(x) / n, which is
/// what the resampled variance estimates (its limit as the resamples grow), without the Monte Carlo
/// error (a relative error of about sqrt(1/(2B)) in the SE: 0.7% at B = 10,000 resamples) and without its cost. Queries: sum over groups of
/// popvar / n_g, Q - 1 degrees of freedom; each trained experiment's seeds: popvar / S x S/(S - 1) =
/// the unbiased variance / S, S - 1 degrees of freedom. Resamples = 0 says "closed form".
let linearSeedQueryInterval (statistic: LinearStatistic) (seedCounts: int[]) : Interval =
    let popVariance (x: float[]) =
        let mean = Array.average x
        (x |> Array.sumBy (fun v -> (v - mean) * (v - mean))) / float x.Length
    match statistic.QueryTerms |> Array.tryFindIndex (fun g -> g.Length < 1) with
    | Some g -> invalidArg "statistic" (sprintf "group %d has no queries" g)
    | None -> ()
    let queries = statistic.QueryTerms |> Array.sumBy (fun g -> g.Length)
    let queryPart = (statistic.QueryTerms |> Array.sumBy (fun g -> popVariance g / float g.Length)), float (queries - 1)
    let seedParts =
        [ for terms in statistic.SeedTerms do
              if terms.Length > 1 then yield sampleVariance terms / float terms.Length, float (terms.Length - 1) ]
    fromParts statistic.Observed 0 queries seedCounts (queryPart :: seedParts)

/// Levels for Holm's step-down at family-wise `alpha`: comparison i is rejected exactly when its
/// interval at the returned level excludes the null. Sorted by p, the k-th (from 0) gets
/// 1 - alpha/(m - k) while every smaller p was rejected; from the first one kept on, all later ones
/// get that same level (Holm stops there, and their larger p-values stay inside it).
let holmLevels (alpha: float) (pValues: float list) : float list =
    let m = pValues.Length
    let order = pValues |> List.mapi (fun i p -> i, p) |> List.sortBy snd
    let levels = Array.create m (1.0 - alpha)
    let mutable stoppedAt = None
    order
    |> List.iteri (fun k (i, p) ->
        let kAt = defaultArg stoppedAt k
        let threshold = alpha / float (m - kAt)
        if stoppedAt.IsNone && p > threshold then stoppedAt <- Some k
        levels.[i] <- 1.0 - threshold)
    List.ofArray levels
