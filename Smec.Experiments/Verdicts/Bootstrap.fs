/// The seeded paired bootstrap over queries (Smucker, Allan and Carterette 2007; Sakai 2014): the
/// unit of analysis is the query. Queries are resampled with replacement within each group (a
/// group = one dataset's test queries; a single dataset is one group), the same resampled ids for
/// every system compared, and a statistic is recomputed on each resample. The interval is the
/// 2.5th and 97.5th percentile of the resampled statistics (linear interpolation between order
/// statistics, R's type 7). Resampling within groups keeps each dataset's query count, so a
/// statistic that weights datasets (the mean of per-dataset means) keeps its weights.
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
    { /// The statistic on the original sample (every query once).
      Estimate: float
      Low: float
      High: float
      Resamples: int
      /// Query units resampled (summed over groups).
      Queries: int
      /// Two-sided bootstrap p-value of "the statistic is 0": 2 x the smaller share of resampled
      /// statistics on either side of 0 (at most 1). For the multiple-comparison note (Holm).
      PValue: float }

/// The p-quantile of sorted values (type 7: h = (n - 1) p, linear between neighbours).
let quantile (sorted: float[]) (p: float) =
    if sorted.Length = 0 then invalidArg "sorted" "no values"
    let h = float (sorted.Length - 1) * p
    let lower = int (floor h)
    let upper = min (sorted.Length - 1) (lower + 1)
    sorted.[lower] + (h - float lower) * (sorted.[upper] - sorted.[lower])

/// The interval of `statistic`, which reads, for every group, the indices of the queries drawn
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
      Resamples = resamples
      Queries = Array.sum groupSizes
      PValue = min 1.0 (2.0 * float (min below above) / float resamples) }

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
