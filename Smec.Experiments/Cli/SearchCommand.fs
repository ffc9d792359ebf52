/// `smec search`: exact top-k search of query embeddings over document embeddings, written as a TREC run.
module Smec.Experiments.Cli.SearchCommand

open System.Diagnostics
open Argu
open Smec.Core.Storage
open Smec.Core.Retrieval
open Smec.Experiments.Cli.UserErrors

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
    // Everything that can be wrong with the options is found before the matrices are read.
    let out = requireWritableFile "--out" (args.GetResult Out)
    let k = requirePositive "--k" (args.GetResult(K, defaultValue = 100))
    let queries = Npy.ReadEmbeddings(requireFile "--queries" (args.GetResult Queries), requireFile "--query-ids" (args.GetResult Query_Ids))
    let docs = Npy.ReadEmbeddings(requireFile "--docs" (args.GetResult Docs), requireFile "--doc-ids" (args.GetResult Doc_Ids))
    if docs.Rows = 0 then userError "%s: 0 documents; expected a corpus of at least one row" (args.GetResult Docs)
    if queries.Rows = 0 then userError "%s: 0 queries; expected at least one row" (args.GetResult Queries)
    if queries.Dim <> docs.Dim then
        userError "%s: %d-d queries, but %s holds %d-d documents; expected embeddings of one space (same dims)" (args.GetResult Queries) queries.Dim (args.GetResult Docs) docs.Dim
    let options =
        SearchOptions(Similarity = args.GetResult(Similarity, defaultValue = Similarity.Cosine),
                      IgnoreIdenticalIds = args.Contains Ignore_Identical_Ids)
    let tag = args.GetResult(Tag, defaultValue = "smec")
    if tag = "" || tag |> Seq.exists System.Char.IsWhiteSpace then userError "--tag: '%s' is empty or holds whitespace; expected one word" tag
    let clock = Stopwatch.StartNew()
    let run = ExactSearch.TopK(queries, docs, k, options)
    let searchSeconds = clock.Elapsed.TotalSeconds
    TrecRunFile.Write(out, run, tag)
    eprintfn "searched %d queries x %d docs x %d dims (%A, top %d) in %.2f s; wrote %s"
        queries.Rows docs.Rows queries.Dim options.Similarity k searchSeconds out
    0
