/// The test oracle: trec_eval's measures written as plainly as possible (lists, sorts, the
/// textbook formulas), sharing no code with Smec.Core.Metrics. Slow on purpose; never used
/// outside the tests.
module Smec.Tests.Metrics.NaiveMetrics

open System

/// A run as plain data: query -> (doc, score) list.
type NaiveRun = Map<string, (string * float32) list>
/// Qrels as plain data: query -> doc -> relevance.
type NaiveQrels = Map<string, Map<string, int>>

/// trec_eval order: score (float32) descending, then doc id descending in ordinal (strcmp) order.
let rank (docs: (string * float32) list) =
    docs |> List.sortWith (fun (idA, sA) (idB, sB) ->
        if sA <> sB then compare sB sA else String.CompareOrdinal(idB, idA))

let private relevanceOf (judged: Map<string, int>) doc = judged |> Map.tryFind doc |> Option.defaultValue 0
let private isRelevant rel = rel >= 1
let private log2 (x: float) = Math.Log x / Math.Log 2.0

let ndcg k (ranked: string list) (judged: Map<string, int>) =
    let gain rel = if rel > 0 then float rel else 0.0
    let dcg gains = gains |> List.mapi (fun i g -> g / log2 (float (i + 1) + 1.0)) |> List.sum
    let actual = ranked |> List.truncate k |> List.map (relevanceOf judged >> gain) |> dcg
    let ideal = judged |> Map.toList |> List.map (snd >> gain) |> List.sortDescending |> List.truncate k |> dcg
    if ideal = 0.0 then 0.0 else actual / ideal

let relevantCount (judged: Map<string, int>) = judged |> Map.filter (fun _ r -> isRelevant r) |> Map.count

let precision k (ranked: string list) judged =
    float (ranked |> List.truncate k |> List.filter (relevanceOf judged >> isRelevant) |> List.length) / float k

let recall k (ranked: string list) judged =
    let total = relevantCount judged
    if total = 0 then 0.0
    else float (ranked |> List.truncate k |> List.filter (relevanceOf judged >> isRelevant) |> List.length) / float total

let mapCut k (ranked: string list) judged =
    let total = relevantCount judged
    let top = ranked |> List.truncate k
    let precisionAtRelevant =
        [ for i in 1 .. top.Length do
            if isRelevant (relevanceOf judged top.[i - 1]) then
                precision i top judged ]
    if total = 0 then 0.0 else List.sum precisionAtRelevant / float total

/// cutoff = None: the whole ranking (trec_eval recip_rank); Some k: MRR@k.
let recipRank (cutoff: int option) (ranked: string list) judged =
    let considered = match cutoff with Some k -> List.truncate k ranked | None -> ranked
    match considered |> List.tryFindIndex (relevanceOf judged >> isRelevant) with
    | Some i -> 1.0 / float (i + 1)
    | None -> 0.0

/// A measure by trec_eval name, e.g. "ndcg_cut_10", "P_5", "recall_100", "map_cut_10", "recip_rank", "recip_rank_10".
let measureByName (name: string) : string list -> Map<string, int> -> float =
    let cutoff (prefix: string) = int (name.Substring prefix.Length)
    if name.StartsWith "ndcg_cut_" then ndcg (cutoff "ndcg_cut_")
    elif name.StartsWith "P_" then precision (cutoff "P_")
    elif name.StartsWith "recall_" then recall (cutoff "recall_")
    elif name.StartsWith "map_cut_" then mapCut (cutoff "map_cut_")
    elif name = "recip_rank" then recipRank None
    elif name.StartsWith "recip_rank_" then recipRank (Some (cutoff "recip_rank_"))
    else failwithf "oracle does not know measure %s" name

/// Per query (ordinal id order) and mean, over the queries in both run and qrels.
let evaluate (ignoreIdenticalIds: bool) (measureName: string) (run: NaiveRun) (qrels: NaiveQrels) =
    let perQuery =
        run
        |> Map.toList
        |> List.filter (fun (q, _) -> qrels.ContainsKey q)
        |> List.sortWith (fun (a, _) (b, _) -> String.CompareOrdinal(a, b))
        |> List.map (fun (q, docs) ->
            let kept = docs |> List.filter (fun (d, _) -> not (ignoreIdenticalIds && d = q))
            q, measureByName measureName (rank kept |> List.map fst) qrels.[q])
    let mean = if perQuery.IsEmpty then 0.0 else perQuery |> List.averageBy snd
    perQuery, mean

/// Exact search by brute force: every document's dot product, summed in float32 in index order.
let search (queries: float32[][]) (docs: float32[][]) (docIds: string[]) k =
    [ for q in queries ->
        docs
        |> Array.mapi (fun i d -> docIds.[i], Array.fold2 (fun (acc: float32) a b -> acc + a * b) 0.0f q d)
        |> List.ofArray |> rank |> List.truncate k ]
