/// Running one experiment: retrieval (fit, compress, score at every dim), a dataset description,
/// or a probe. Returns its measurements; the runner stores them.
module Smec.Experiments.Running.Experiments

open Smec.Core.Methods
open Smec.Core.Metrics
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Builders
open Smec.Experiments.Running.Datasets
open Smec.Experiments.Running.Environment
open Smec.Experiments.Methods
open Smec.Experiments.Store

type ExperimentOutput =
    { Measurements: Map<string, float>
      /// Retrieval: per-query nDCG@10 at every scored dims.
      PerQuery: ResultStore.PerQueryScores option
      Settings: Map<string, string>
      Notes: string list
      Checksums: Map<string, string> }

/// The queries a judgement set judges, in ordinal id order.
let judgedQueries (queries: Smec.Core.Storage.EmbeddingMatrix) (qrels: Smec.Core.Data.Qrels) =
    let known = queries.IndexById()
    queries.Select(qrels.QueryIds |> Seq.filter known.ContainsKey |> Seq.sortWith (fun a b -> System.String.CompareOrdinal(a, b)) |> Array.ofSeq)

/// nDCG@10 (trec_eval ndcg_cut.10) of a fitted compressor at one dim: the judged queries searching
/// the corpus, both compressed. The runner's validation figures and `smec train`'s figures.
let ndcg10At (compressor: ICompressor) (search: SearchOptions) (corpus: Smec.Core.Storage.EmbeddingMatrix) (judged: Smec.Core.Storage.EmbeddingMatrix) (qrels: Smec.Core.Data.Qrels) (dim: int) =
    let docs = compressor.Compress(corpus, dim, EmbeddingRole.Document)
    let queries = compressor.Compress(judged, dim, EmbeddingRole.Query)
    RetrievalEvaluation.NdcgAt10(queries, docs, qrels, search)

/// The dims of the config the input can serve, and those it cannot.
let private scoredDims (config: ExperimentConfig) (data: LoadedDataset) =
    config.Dims |> List.partition (fun d -> d <= data.Training.Corpus.Dim)

/// The experiment's compressor, built (seeded by the config) and not fitted.
let compressorFor (config: ExperimentConfig) (data: LoadedDataset) (factory: MethodRegistry.MethodFactory) : ICompressor =
    Determinism.Seed config.Seed |> ignore
    factory
        { Method = config.Method
          Options = config.Options
          Dims = fst (scoredDims config data)
          InputDim = data.Training.Corpus.Dim
          Budget = config.Budget
          Seed = config.Seed
          Progress = true
          CheckpointPath = None }

/// A fitted compressor's figures: for every dim compress the test corpus and test queries and score them
/// (and the validation queries searching the training corpus).
let evaluateFitted (config: ExperimentConfig) (data: LoadedDataset) (compressor: ICompressor) =
    let inputDim = data.Training.Corpus.Dim
    let dims, tooLarge = scoredDims config data
    let search = SearchOptions(IgnoreIdenticalIds = data.DropSelfMatches)
    // P@10 and recall@10 besides the standard measures: the image items' class-relevance figures
    // and the multimodal items' R@10 (cheap: the ranking is already 100 deep).
    let measures = [ yield! RetrievalEvaluation.StandardMeasures; Measure.PrecisionAt 10; Measure.RecallAt 10 ] |> List.distinct |> Array.ofList
    let documents = testCorpus data
    // Validation figures (the training corpus searched by the held-out validation queries): what a
    // sweep chooses its best setting on, so that the test split never takes part in a choice.
    let validationQueries = judgedQueries data.Training.Queries data.Training.Validation
    let validation =
        [ if validationQueries.Rows > 0 then
              for d in dims do
                  yield "val-" + ndcgAt d, ndcg10At compressor search data.Training.Corpus validationQueries data.Training.Validation d ]
    let evaluated =
      Timing.time "evaluation (compress test data, search, trec_eval)" (fun () ->
        [ for d in dims ->
              let docs = compressor.Compress(documents, d, EmbeddingRole.Document)
              let queries = compressor.Compress(data.TestQueries, d, EmbeddingRole.Query)
              d, RetrievalEvaluation.Evaluate(queries, docs, data.Test, measures, search) ])
    let measurements =
        [ for d, result in evaluated do
              yield ndcgAt d, result.Mean Measure.Ndcg10
              for m in measures do yield sprintf "%s@%d" m.Name d, result.Mean m ]
    // Every dims scores the same test queries (those with judgements), in the same order.
    let perQuery : ResultStore.PerQueryScores option =
        match evaluated with
        | [] -> Some { ResultStore.PerQueryScores.QueryIds = [||]; ResultStore.PerQueryScores.Scores = Map.empty } // no dims scored
        | (_, first) :: _ ->
            let ids = Array.ofSeq first.QueryIds
            for d, result in evaluated do
                if not (Seq.forall2 (=) result.QueryIds ids) then
                    failwithf "per-query scores at %d dims cover other queries than at %d dims" d (fst evaluated.Head)
            Some { ResultStore.PerQueryScores.QueryIds = ids
                   ResultStore.PerQueryScores.Scores = evaluated |> List.map (fun (d, r) -> ndcgAt d, r.PerQuery Measure.Ndcg10) |> Map.ofList }
    { Measurements = Map.ofList (Map.toList data.DataMeasurements @ validation @ measurements)
      PerQuery = perQuery
      Settings = compressor.Settings |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq
      Notes =
        data.Notes
        @ [ if not tooLarge.IsEmpty then
                sprintf "dims %s exceed the input's %d dims: not scored" (tooLarge |> List.map string |> String.concat ", ") inputDim ]
      Checksums = data.Checksums }

/// Fit the method, then for every dim compress the test corpus and test queries and score them.
let retrieval (config: ExperimentConfig) (data: LoadedDataset) (factory: MethodRegistry.MethodFactory) =
    use compressor = compressorFor config data factory
    Timing.time ("fit: " + config.Method) (fun () -> compressor.Fit data.Training)
    evaluateFitted config data compressor

/// Experiments of one method that differ only in seed, fitted together when the method can
/// (IEnsembleFit: one ensemble per fit, each member as it would be fitted alone), then each scored as
/// `retrieval` scores it. Ok: each config's output, in order, and the seconds the joint fit took;
/// Error: why they cannot be fitted together (nothing was fitted: run each alone).
let retrievalTogether (env: RunEnvironment) (configs: ExperimentConfig list) (data: LoadedDataset list) : Result<ExperimentOutput list * float, string> =
    match configs with
    | [] | [ _ ] -> Error "one member: nothing to fit together"
    | first :: _ ->
        match env.Methods.Resolve first.Method with
        | Error reason -> Error reason
        | Ok entry ->
            let resolved =
                configs
                |> List.map (fun config ->
                    match MethodOptions.resolve entry.Key entry.Options config.Options with
                    | Ok options -> { config with Options = options }
                    | Error message -> failwith message)
            let compressors = List.map2 (fun config d -> compressorFor config d entry.Create) resolved data |> Array.ofList
            try
                match EnsembleFit.CannotFitTogether compressors with
                | null ->
                    let clock = System.Diagnostics.Stopwatch.StartNew()
                    Timing.time (sprintf "fit: %s (%d members together)" first.Method compressors.Length) (fun () ->
                        (compressors.[0] :?> IEnsembleFit).FitTogether(compressors, [| for d in data -> d.Training |]))
                    let seconds = clock.Elapsed.TotalSeconds
                    Ok(List.map3 evaluateFitted resolved data (List.ofArray compressors), seconds)
                | why -> Error why
            finally
                for c in compressors do c.Dispose()

/// What needs loaded data and what does not.
let needsData (config: ExperimentConfig) = config.Kind <> DatasetDescription

/// Run one experiment. Error = it cannot run here (SKIPPED, with the reason); exceptions = it failed.
let execute (env: RunEnvironment) (config: ExperimentConfig) (data: Lazy<LoadedDataset> option) : Result<ExperimentOutput, string> =
    match config.Kind, data with
    | DatasetDescription, _ ->
        Timing.time "data descriptions (counts, checksums)" (fun () -> DatasetDescription.describe env.Manifest config)
        |> Result.map (fun (measurements, checksums) ->
            { Measurements = measurements; PerQuery = None; Settings = Map.empty; Notes = []; Checksums = checksums })
    | _, None -> Error "no data for this experiment"
    | Retrieval, Some data ->
        env.Methods.Resolve config.Method
        |> Result.map (fun entry ->
            // Invalid options are the config's mistake, not a missing capability: fail, do not skip.
            match MethodOptions.resolve entry.Key entry.Options config.Options with
            | Ok options -> retrieval { config with Options = options } data.Value entry.Create
            | Error message -> failwith message)
    | (GradientProbe | DimensionImportance), Some data ->
        env.Probes.Resolve config.Kind
        |> Result.map (fun probe ->
            Determinism.Seed config.Seed |> ignore
            let data = data.Value
            let output = Timing.time (sprintf "probe: %A" config.Kind) (fun () -> probe { Config = config; Data = data; Methods = env.Methods })
            { Measurements = output.Measurements
              PerQuery = None
              Settings = output.Settings
              Notes = data.Notes @ output.Notes
              Checksums = data.Checksums })
