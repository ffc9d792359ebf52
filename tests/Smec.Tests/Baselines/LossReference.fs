/// Naive loop implementations of the baseline losses (DiffSharp style): plain arrays, explicit
/// sums, written from the formulas in docs/METHOD.md ("Other losses"), to serve as oracles for the tensor versions.
module Smec.Tests.Baselines.LossReference

let private dot (a: float[]) (b: float[]) = Array.fold2 (fun s x y -> s + x * y) 0.0 a b
let cosine (a: float[]) (b: float[]) = dot a b / (sqrt (dot a a) * sqrt (dot b b))
let prefix (m: int) (row: float[]) = row.[0 .. m - 1]

/// mean over i < j and over m of |cos(o_i, o_j) - cos(a_i[:m], a_j[:m])|
let pairwise (original: float[][]) (adapted: float[][]) (prefixes: int list) =
    let n = original.Length
    let perPrefix m =
        let mutable sum, count = 0.0, 0
        for i in 0 .. n - 1 do
            for j in i + 1 .. n - 1 do
                sum <- sum + abs (cosine original.[i] original.[j] - cosine (prefix m adapted.[i]) (prefix m adapted.[j]))
                count <- count + 1
        sum / float count
    prefixes |> List.averageBy perPrefix

/// mean over anchors i, neighbours j and m of |cos(o_i, o_ij) - cos(a_i[:m], a_ij[:m])|
let topK (originalAnchors: float[][]) (adaptedAnchors: float[][]) (originalNeighbours: float[][][]) (adaptedNeighbours: float[][][]) (prefixes: int list) =
    let perPrefix m =
        let mutable sum, count = 0.0, 0
        for i in 0 .. originalAnchors.Length - 1 do
            for j in 0 .. originalNeighbours.[i].Length - 1 do
                sum <- sum + abs (cosine originalAnchors.[i] originalNeighbours.[i].[j]
                                  - cosine (prefix m adaptedAnchors.[i]) (prefix m adaptedNeighbours.[i].[j]))
                count <- count + 1
        sum / float count
    prefixes |> List.averageBy perPrefix

/// mean over every coordinate of |a - o| (L1) or (a - o)^2 (L2)
let reconstruction (original: float[][]) (adapted: float[][]) (squared: bool) =
    let diffs = Array.map2 (Array.map2 (fun o a -> if squared then (a - o) * (a - o) else abs (a - o))) original adapted
    (diffs |> Array.sumBy Array.sum) / float (diffs |> Array.sumBy Array.length)

/// sum_p w_p * mean_c |pred_pc - q_pc| / sum_p w_p
let queryPrediction (predicted: float[][]) (queries: float[][]) (relevance: float[]) =
    let perPair = Array.map2 (fun (p: float[]) (q: float[]) -> (Array.map2 (fun x y -> abs (x - y)) p q |> Array.average)) predicted queries
    (Array.map2 (*) perPair relevance |> Array.sum) / Array.sum relevance
