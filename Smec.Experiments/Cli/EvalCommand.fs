/// `smec eval`: trec_eval's figures for a TREC qrels file and run file.
module Smec.Experiments.Cli.EvalCommand

open Argu
open Smec.Core.Data
open Smec.Core.Metrics
open Smec.Core.Retrieval

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

/// trec_eval's text for the given files and options (separate from printing so tests can call it).
let evaluate (qrelsPath: string) (runPath: string) (measureSpecs: string list) (perQuery: bool) (ignoreIdenticalIds: bool) =
    let measures = Measure.ParseAll(if measureSpecs.IsEmpty then defaultMeasures else measureSpecs)
    let qrels = Qrels.Read qrelsPath
    let run = TrecRunFile.Read runPath
    RunEvaluator.Evaluate(run, qrels, measures, ignoreIdenticalIds).ToTrecEvalText perQuery

let run (args: ParseResults<EvalArgs>) : int =
    let text =
        evaluate (args.GetResult Qrels) (args.GetResult Run) (args.GetResults Measure) (args.Contains Per_Query) (args.Contains Ignore_Identical_Ids)
    stdout.Write text
    0
