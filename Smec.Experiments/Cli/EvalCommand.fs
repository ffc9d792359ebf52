/// `smec eval`: trec_eval's figures for a TREC qrels file and run file.
module Smec.Experiments.Cli.EvalCommand

open Argu
open Smec.Core.Data
open Smec.Core.Metrics
open Smec.Core.Retrieval
open Smec.Experiments.Cli.UserErrors

type EvalArgs =
    | [<Mandatory; Unique>] Qrels of path: string
    | [<Mandatory; Unique>] Run of path: string
    | [<AltCommandLine("-m")>] Measure of name: string
    | [<AltCommandLine("-q")>] Per_Query
    | Ignore_Identical_Ids

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Qrels _ -> "qrels file: TREC `qid 0 docid rel` or BEIR tsv with header"
            | Run _ -> "run file: TREC `qid Q0 docid rank score tag`"
            | Measure _ ->
                "trec_eval measure, repeatable, comma lists allowed: ndcg_cut.5,10,100 P.10 recall.100 map_cut.10 recip_rank (also recip_rank.K = MRR@K); default: the set in data/trec_eval"
            | Per_Query -> "also print one line per query and measure (trec_eval -q)"
            | Ignore_Identical_Ids -> "drop documents whose id equals the query id (BEIR ignore_identical_ids)"

/// The measures of data/trec_eval/*.expected, used when no -m is given.
let defaultMeasures = [ "ndcg_cut.5,10,100"; "P.10"; "recall.10,100"; "map_cut.10,100"; "recip_rank" ]

/// Nothing evaluated is an error, never a table of zeros: say which file is empty or how they disagree.
let private requireEvaluated (qrelsPath: string) (runPath: string) (qrels: Qrels) (run: Run) (result: Smec.Core.Metrics.EvaluationResult) =
    if result.QueryCount = 0 then
        let runQueries = run.QueryIds |> Seq.length
        if runQueries = 0 then
            userError "%s: the run has no lines, so 0 queries evaluated; expected lines 'qid Q0 docid rank score tag'" runPath
        elif qrels.QueryCount = 0 then
            userError "%s: the qrels have no judgements, so 0 queries evaluated; expected lines 'qid 0 docid rel' (TREC) or 'qid docid rel' (BEIR)" qrelsPath
        else
            let example (ids: string seq) = ids |> Seq.sort |> Seq.truncate 3 |> Seq.map (sprintf "'%s'") |> String.concat ", "
            userError "%s: none of its %d query ids (e.g. %s) is judged in %s (%d queries, e.g. %s), so 0 queries evaluated; expected a run and qrels of the same queries"
                runPath runQueries (example run.QueryIds) qrelsPath qrels.QueryCount (example qrels.QueryIds)

/// trec_eval's text for the given files and options (separate from printing so tests can call it).
let evaluate (qrelsPath: string) (runPath: string) (measureSpecs: string list) (perQuery: bool) (ignoreIdenticalIds: bool) =
    let measures = Measure.ParseAll(if measureSpecs.IsEmpty then defaultMeasures else measureSpecs)
    let qrels = Qrels.Read(requireFile "--qrels" qrelsPath)
    let run = TrecRunFile.Read(requireFile "--run" runPath)
    let result = RunEvaluator.Evaluate(run, qrels, measures, ignoreIdenticalIds)
    requireEvaluated qrelsPath runPath qrels run result
    result.ToTrecEvalText perQuery

let run (args: ParseResults<EvalArgs>) : int =
    let text =
        evaluate (args.GetResult Qrels) (args.GetResult Run) (args.GetResults Measure) (args.Contains Per_Query) (args.Contains Ignore_Identical_Ids)
    stdout.Write text
    0
