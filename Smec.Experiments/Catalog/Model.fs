/// The catalog as data (MTEB TaskMetadata style: records, not subclasses). An item is a table per
/// profile; a table is cells; a cell is a quantity computed from experiments; an experiment is a
/// hashable configuration, so one run feeds every cell (in any table) that names the same config.
module Smec.Experiments.Catalog.Model

open Smec.Experiments.Catalog.Published

/// `paper`: the paper's encoders and data, from a user's embeddings manifest.
/// `local`: the scaled-down stand-in that runs on the data that ships with the project.
type Profile =
    | Paper
    | Local

module Profile =
    let name = function Paper -> "paper" | Local -> "local"

    let parse (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "paper" -> Ok Paper
        | "local" -> Ok Local
        | other -> Error(sprintf "unknown profile '%s' (expected local or paper)" other)

/// What an experiment does.
type ExperimentKind =
    /// Fit a compressor on the training data, compress corpus and test queries, score nDCG@10 per dim.
    | Retrieval
    /// Per-epoch gradient magnitude/variance of shared vs unshared weights, MRL vs SMRL (item 8).
    | GradientProbe
    /// Importance of each dimension and the share of the top ones a selection keeps (item 9).
    | DimensionImportance
    /// Counts, dims and checksums of a dataset (item 1); no training.
    | DatasetDescription

module ExperimentKind =
    let name =
        function
        | Retrieval -> "retrieval"
        | GradientProbe -> "gradient-probe"
        | DimensionImportance -> "dimension-importance"
        | DatasetDescription -> "dataset-description"

/// Training budget of a method that learns (recorded, and part of the hash).
type TrainingBudget =
    { MaxSteps: int
      BatchSize: int
      LearningRate: float
      /// Early stopping: validations without a gain in validation nDCG@10 before stopping.
      Patience: int
      ValidateEvery: int }

/// How queries are split into train / validation / test.
type SplitRule =
    /// The dataset's own train and test qrels; `validation` train queries held out for early stopping.
    | GivenTrainTest of validation: int
    /// No train split (Cranfield, CACM, a BEIR set without train qrels): the judged queries are
    /// halved by a fixed hash into train and test; a fifth of the train half, and at least
    /// `minValidation` queries, held out for validation (Splits.halvesValidationSize).
    | QueryHalves of minValidation: int
    /// k-fold cross-validation over the judged queries (train and test judgements pooled), for
    /// collections with few labelled queries (SplitRules.kFoldBelow): each query is in exactly one
    /// fold by a fixed hash of its id (Splits.foldOf), so every method and seed sees the same folds.
    /// Fold f tests its own queries; its model trains on the other folds' queries, a fifth of them
    /// (at least `minValidation`) held out for validation. `fold` None is a cell's config (all folds:
    /// the runner plans one experiment per fold and the cell aggregates them); Some f is one fold's
    /// experiment.
    | KFold of folds: int * minValidation: int * fold: int option

/// Where an experiment's data comes from.
type DataSource =
    /// The project's own data (the mirror, the encoders and the embedding cache).
    | Mirror
    /// A user's embeddings manifest entry, identified by its file fingerprint.
    | Manifest of fingerprint: string

/// One experiment: everything that determines its numbers. Canonical JSON of this record,
/// hashed with SHA-256, is the experiment's identity and cache key.
type ExperimentConfig =
    { Kind: ExperimentKind
      Dataset: string
      Encoder: string
      Source: DataSource
      Split: SplitRule
      /// Method key in the method registry (Methods/MethodRegistry.fs); for probes the probe's subject.
      Method: string
      /// Method options (named, string-valued so they hash canonically), e.g. "ads" -> "false".
      Options: Map<string, string>
      /// Dimensions to produce and score.
      Dims: int list
      /// 0 for methods that learn nothing (one run serves every seed).
      Seed: int64
      /// None for methods that learn nothing.
      Budget: TrainingBudget option }

module ExperimentConfig =
    /// The config for one seed of a table (configs without a budget do not depend on the seed).
    let withSeed (seed: int64) (config: ExperimentConfig) =
        match config.Budget with
        | Some _ -> { config with Seed = seed }
        | None -> config

/// An allowance or tolerance: absolute on the harness's scale, or relative to the expected value.
type Allowance =
    | Absolute of float
    | Relative of float

module Allowance =
    let resolve (expected: float) =
        function
        | Absolute a -> a
        | Relative r -> abs expected * r

/// A number a cell shows, computed from experiment measurements.
type Quantity =
    /// One measurement of one experiment (for trained configs: the mean over the table's seeds).
    | Measure of ExperimentConfig * measure: string
    | Mean of Quantity list
    | Difference of Quantity * Quantity
    | Ratio of Quantity * Quantity
    /// max - min of the values (how far apart methods are).
    | Spread of Quantity list
    /// full dims / the smallest d whose candidate >= the reference (the frozen encoder at full dims).
    | LosslessFactor of fullDims: int * reference: Quantity * candidates: (int * Quantity) list
    | Constant of float
    /// Cannot be computed in this setting; the reason says what to provide.
    | Unavailable of reason: string

/// How a cell is printed: harness value x Factor, with Digits decimals.
type Display =
    { Factor: float
      Digits: int
      Unit: string }

module Display =
    let percent = { Factor = 100.0; Digits = 1; Unit = "nDCG@10 x100" }
    let fraction = { Factor = 1.0; Digits = 3; Unit = "nDCG@10" }
    let count = { Factor = 1.0; Digits = 0; Unit = "count" }
    let ratio = { Factor = 1.0; Digits = 1; Unit = "x" }
    let raw = { Factor = 1.0; Digits = 6; Unit = "" }
    let sharePercent = { Factor = 100.0; Digits = 1; Unit = "%" }
    /// Four significant digits, for values spanning magnitudes (gradient statistics).
    let scientific = { Factor = 1.0; Digits = -1; Unit = "" }

    let format (display: Display) (value: float) =
        let format = if display.Digits < 0 then "G4" else "F" + string display.Digits
        (value * display.Factor).ToString(format, System.Globalization.CultureInfo.InvariantCulture)

/// An expected value that is not a statistical estimate: |actual - value| <= tolerance.
type DeclaredValue =
    { Value: float
      Tolerance: float
      /// Where the value comes from (shown with the check).
      Source: string }

type Cell =
    { Panel: string
      Row: string
      Column: string
      Value: Quantity
      Display: Display
      /// The published value this cell reproduces (paper profile).
      Published: PublishedKey option
      /// Added to the published value's reading precision: training noise, unknown data choices.
      NoiseAllowance: Allowance
      /// Smallest regression tolerance (the blessed seed spread can only widen it).
      RegressionFloor: Allowance
      /// A value known before the run, by a computation that does not learn: a count the data's
      /// documentation declares (item 1, tolerance 0) or a reference figure of a frozen baseline
      /// (paper-results/reference-figures.csv). Checked deterministically, both ways.
      Declared: DeclaredValue option
      /// Some true: a value above the expected one is "better than expected" (OK*).
      HigherIsBetter: bool option }

type Relation =
    | AtLeast
    | Greater
    | AtMost
    | Less

module Relation =
    let symbol = function AtLeast -> ">=" | Greater -> ">" | AtMost -> "<=" | Less -> "<"

type ClaimTerm = { Label: string; Value: Quantity }

type Assertion =
    /// a rel b rel c ...: every consecutive pair must hold.
    | Chain of ClaimTerm * (Relation * ClaimTerm) list
    /// term rel constant (on the harness's scale).
    | Bound of ClaimTerm * Relation * float

/// A qualitative claim of the paper (docs/PAPER-RESULTS.md, "Claims to check"), checked on our numbers.
type Claim =
    { Id: string
      Text: string
      Panel: string
      Assertion: Assertion
      /// How far a relation may miss and still be within noise (OK*, not FAIL); a relative slack is
      /// taken of the larger of the two values compared. The seed spread can only widen it.
      Slack: Allowance
      Display: Display }

/// One published series to draw beside ours: a published row and the local row it corresponds to.
type ChartSpec =
    { XTitle: string
      YTitle: string
      /// Our panel to draw (rows over dims columns).
      Panels: string list
      /// The published panel drawn beside ours.
      PublishedPanel: string option
      PublishedEncoder: string option }

type TableSpec =
    { Item: int
      Profile: Profile
      Title: string
      Description: string
      Panels: string list
      Rows: string list
      Columns: string list
      Cells: Cell list
      Claims: Claim list
      Seeds: int64 list
      Notes: string list
      Chart: ChartSpec option }

/// What a table is built from besides the catalog itself.
type CatalogContext =
    { Seeds: int64 list
      Manifest: EmbeddingsManifest.EmbeddingsManifest option }

type CatalogItem =
    { Number: int
      Title: string
      PaperSource: string
      /// The paper encoders whose embeddings the paper profile needs (named in the manifest).
      PaperEncoders: string list
      Build: Profile -> CatalogContext -> TableSpec }
