/// An experiment's identity: its config as canonical JSON (object keys sorted, no whitespace,
/// numbers in shortest round-trip form), hashed with SHA-256. The hex digest is the cache key.
module Smec.Experiments.Store.ConfigHash

open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open Smec.Experiments.Catalog.Model

/// Bump when the meaning of a config changes (a new required field, a changed default) so that
/// old cached results are not reused.
[<Literal>]
let Schema = "smec-experiment/1"

let private splitJson =
    function
    | GivenTrainTest validation -> JsonObject(dict [ "rule", JsonValue.Create "given-train-test" :> JsonNode; "validation", JsonValue.Create validation ])
    | QueryHalves minValidation ->
        JsonObject(dict [ "rule", JsonValue.Create "query-halves, validation max(min, train half / 5)" :> JsonNode; "min_validation", JsonValue.Create minValidation ])
    | KFold(folds, minValidation, fold) ->
        // The fold is part of the key: each fold is its own experiment (cached, locked, resumed alone).
        JsonObject(
            dict
                [ yield "rule", JsonValue.Create "k-fold by salted hash of the query id, validation max(min, training / 5)" :> JsonNode
                  yield "folds", JsonValue.Create folds
                  yield "min_validation", JsonValue.Create minValidation
                  match fold with
                  | Some f -> yield "fold", JsonValue.Create f
                  | None -> () ]
        )

let private budgetJson (budget: TrainingBudget option) : JsonNode =
    match budget with
    | None -> null
    | Some b ->
        JsonObject(
            dict
                [ "max_steps", JsonValue.Create b.MaxSteps :> JsonNode
                  "batch_size", JsonValue.Create b.BatchSize
                  "learning_rate", JsonValue.Create b.LearningRate
                  "patience", JsonValue.Create b.Patience
                  "validate_every", JsonValue.Create b.ValidateEvery ]
        )

/// The config as a JSON object (key order does not matter: `canonical` sorts).
let toJson (config: ExperimentConfig) : JsonObject =
    let source: JsonNode =
        match config.Source with
        | Mirror -> JsonValue.Create "mirror"
        | Manifest fingerprint -> JsonObject(dict [ "manifest", JsonValue.Create fingerprint :> JsonNode ])
    let options = JsonObject()
    for KeyValue(k, v) in config.Options do options[k] <- JsonValue.Create v
    let dims = JsonArray()
    for d in config.Dims do dims.Add(JsonValue.Create d)
    JsonObject(
        dict
            [ "schema", JsonValue.Create Schema :> JsonNode
              "kind", JsonValue.Create(ExperimentKind.name config.Kind)
              "dataset", JsonValue.Create config.Dataset
              "encoder", JsonValue.Create config.Encoder
              "source", source
              "split", splitJson config.Split
              "method", JsonValue.Create config.Method
              "options", options
              "dims", dims
              "seed", JsonValue.Create config.Seed
              "budget", budgetJson config.Budget
              "evaluation", JsonValue.Create "nDCG@10 on the test split, exact cosine search, trec_eval semantics" ]
    )

/// Write a node with object keys in ordinal order and no whitespace.
let rec private writeCanonical (writer: Utf8JsonWriter) (node: JsonNode) =
    match node with
    | null -> writer.WriteNullValue()
    | :? JsonObject as o ->
        writer.WriteStartObject()
        for KeyValue(k, v) in o |> Seq.sortWith (fun a b -> System.String.CompareOrdinal(a.Key, b.Key)) do
            writer.WritePropertyName k
            writeCanonical writer v
        writer.WriteEndObject()
    | :? JsonArray as a ->
        writer.WriteStartArray()
        for v in a do writeCanonical writer v
        writer.WriteEndArray()
    | value -> value.WriteTo writer

/// Canonical JSON text of a node.
let canonical (node: JsonNode) =
    use stream = new MemoryStream()
    (use writer = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = false))
     writeCanonical writer node)
    Encoding.UTF8.GetString(stream.ToArray())

let sha256Hex (text: string) = Smec.Core.Data.FileChecksums.Sha256OfText text

/// The experiment's hash: SHA-256 of its canonical JSON.
let hash (config: ExperimentConfig) = sha256Hex (canonical (toJson config))

/// The key of a stored result: the config's hash extended by the implementation that computes it
/// (a registry's tag such as "Smec.Core Pca/2") and by the method's fully resolved options (every
/// option that reaches the method, defaults included), so that neither another implementation nor
/// a changed default can reuse a stored result. No implementation and no options: the config's hash.
let resultKey (implementation: string) (resolvedOptions: Map<string, string>) (config: ExperimentConfig) =
    if implementation = "" && resolvedOptions.IsEmpty then hash config
    else
        let json = toJson config
        json["implementation"] <- JsonValue.Create implementation
        // The resolved options replace the given ones: a default written out or left out is one key.
        let resolved = JsonObject()
        for KeyValue(k, v) in resolvedOptions do resolved[k] <- JsonValue.Create v
        json["options"] <- resolved
        sha256Hex (canonical json)

/// First 12 hex digits, for tables and progress lines.
let short (hash: string) = Smec.Core.Data.FileChecksums.Short hash

/// What a cell computes regardless of seeds (the seeds are recorded beside it), so a blessed value
/// stays comparable when the number of seeds changes. Each measured experiment is named by
/// `experimentKey` of its config without its seed: the table passes the settings key (every resolved
/// option and the data, not the implementation tag), so a changed default makes a blessed value
/// "blessed for another configuration" instead of comparing two different methods, while a changed
/// implementation is compared with the blessed value by its band (a regression check of code).
let rec quantityJsonWith (experimentKey: ExperimentConfig -> string) (quantity: Quantity) : JsonNode =
    let quantityJson = quantityJsonWith experimentKey
    let list (qs: Quantity list) =
        let a = JsonArray()
        for q in qs do a.Add(quantityJson q)
        a
    let tagged (tag: string) (value: JsonNode) = JsonObject(dict [ tag, value ]) :> JsonNode
    match quantity with
    | Measure(config, measure) ->
        tagged "measure" (JsonArray(JsonValue.Create(experimentKey { config with Seed = 0L }) :> JsonNode, JsonValue.Create measure))
    | Mean qs -> tagged "mean" (list qs)
    | Spread qs -> tagged "spread" (list qs)
    | Difference(a, b) -> tagged "difference" (list [ a; b ])
    | Ratio(a, b) -> tagged "ratio" (list [ a; b ])
    | LosslessFactor(full, reference, candidates) ->
        let c = JsonArray()
        for d, q in candidates do c.Add(JsonArray(JsonValue.Create d :> JsonNode, quantityJson q))
        tagged "lossless" (JsonArray(JsonValue.Create full :> JsonNode, quantityJson reference, c))
    | Constant v -> tagged "constant" (JsonValue.Create v)
    | Unavailable reason -> tagged "unavailable" (JsonValue.Create reason)

/// As the given configs say (no resolution of defaults): for reports that show what a cell computes.
let quantityJson (quantity: Quantity) = quantityJsonWith hash quantity

let quantityHashWith (experimentKey: ExperimentConfig -> string) (quantity: Quantity) =
    sha256Hex (canonical (quantityJsonWith experimentKey quantity))

let quantityHash (quantity: Quantity) = quantityHashWith hash quantity
