/// `smec search`: exact top-k search of query embeddings over document embeddings, written as a TREC run.
module Smec.Experiments.Cli.SearchCommand

open System.Diagnostics
open Argu
open Smec.Core.Storage
open Smec.Core.Retrieval

type SearchArgs =
    | [<Mandatory; Unique>] Queries of npy: string
    | [<Mandatory; Unique>] Query_Ids of txt: string
    | [<Mandatory; Unique>] Docs of npy: string
    | [<Mandatory; Unique>] Doc_Ids of txt: string
    | [<Unique>] K of int
    | [<Mandatory; Unique>] Out of path: string
    | [<Unique>] Similarity of Similarity
    | Ignore_Identical_Ids
    | [<Unique>] Tag of string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Queries _ -> "query embeddings, .npy float32 [rows, dim]"
            | Query_Ids _ -> "query ids, one per line, in row order"
            | Docs _ -> "document embeddings, .npy float32 [rows, dim]"
            | Doc_Ids _ -> "document ids, one per line, in row order"
            | K _ -> "documents per query (default 100)"
            | Out _ -> "TREC run file to write"
            | Similarity _ -> "cosine (default) or dot"
            | Ignore_Identical_Ids -> "never return the document whose id equals the query id"
            | Tag _ -> "run tag, the last column (default smec)"

let run (args: ParseResults<SearchArgs>) : int =
    let queries = Npy.ReadEmbeddings(args.GetResult Queries, args.GetResult Query_Ids)
    let docs = Npy.ReadEmbeddings(args.GetResult Docs, args.GetResult Doc_Ids)
    let k = args.GetResult(K, defaultValue = 100)
    let options =
        SearchOptions(Similarity = args.GetResult(Similarity, defaultValue = Similarity.Cosine),
                      IgnoreIdenticalIds = args.Contains Ignore_Identical_Ids)
    let clock = Stopwatch.StartNew()
    let run = ExactSearch.TopK(queries, docs, k, options)
    let searchSeconds = clock.Elapsed.TotalSeconds
    let out = args.GetResult Out
    TrecRunFile.Write(out, run, args.GetResult(Tag, defaultValue = "smec"))
    eprintfn "searched %d queries x %d docs x %d dims (%A, top %d) in %.2f s; wrote %s"
        queries.Rows docs.Rows queries.Dim options.Similarity k searchSeconds out
    0
