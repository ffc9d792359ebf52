/// The named choices the catalog is built from: encoders, dims ladders, methods, budgets,
/// tolerances. Each value that the paper does not fix says why it is what it is.
module Smec.Experiments.Catalog.Profiles

open Smec.Experiments.Catalog.Model

// ---- encoders -------------------------------------------------------------------------------

/// Local text encoders (384-d), the names the data mirror and embedding cache use.
let miniLM = "all-MiniLM-L6-v2"
let arcticXs = "arctic-embed-xs"

/// Paper encoders, as an embeddings manifest names them in `stands_for`.
let llm2vec7B = "LLM2Vec-7B"
let llm2vec1B = "LLM2Vec-1B"
let openAiLarge = "text-embedding-3-large"
let image1024 = "image-1024d"
let multimodal768 = "multimodal-768d"
let resnet18 = "resnet18"

// ---- dims -----------------------------------------------------------------------------------

/// Local ladder: 384 -> 24 is 16x, like the paper's 3584 -> 256 (14x).
let localDims = [ 24; 48; 96; 192; 384 ]
let paperDims7B = [ 128; 256; 512; 768; 1536; 3584 ]
let paperDimsOpenAi = [ 128; 256; 512; 768; 1536; 3072 ]
let paperDimsImage = [ 128; 256; 512; 768; 1024 ]
let paperDimsMultimodal = [ 128; 256; 384; 512; 768 ]
let localImageDims = [ 32; 64; 128; 256; 512 ]

// ---- datasets -------------------------------------------------------------------------------

let localTextDatasets = [ "scifact"; "cranfield"; "cacm" ]

/// A dataset's short name in tables: its manifest's `name` (the id when it has none, or no manifest).
let datasetTitle (id: string) =
    match Smec.Core.Data.Manifests.ManifestCatalog.Default.Datasets.TryGetValue id with
    | true, manifest -> manifest.DisplayName
    | _ -> id

/// The smallest validation set of a collection without a train split. Early stopping keeps the
/// step with the best validation nDCG@10; with CACM's former 5 validation queries several trained
/// cells never beat their starting point ("kept start") and equalled PCA to every digit. 12
/// queries let one query move the mean by at most 1/12 instead of 1/5, and still leave CACM (52
/// judged queries, 26 in the train half) 14 to train on. (Two-fold cross-validation would test
/// every query, but doubles the training of every Cranfield and CACM cell, on top of 3 seeds.)
let minHalvesValidation = 12

/// Validation queries held out of the training queries for early stopping. SciFact has 809
/// training queries (100 held out, docs/CATALOG.md, "Split rules"); Cranfield (225 queries) and CACM (52 judged) have
/// no train split: their judged queries are halved, and a fifth of the train half (at least 12)
/// is held out (Cranfield 23, CACM 12).
let localSplit =
    function
    | "scifact" -> GivenTrainTest 100
    | "cranfield" | "cacm" -> QueryHalves minHalvesValidation
    | _ -> GivenTrainTest 100

/// The panel that averages the local text datasets: the analogue of the paper's BEIR average.
let meanPanelOf (datasets: int) = sprintf "mean of %d" datasets
let meanPanel = meanPanelOf 3

// ---- methods --------------------------------------------------------------------------------

/// A method as the catalog names it: registry key, table row, and whether it learns (the row and
/// the learning flag come from the method registry, the one place they are stated).
type MethodSpec = { Key: string; Row: string; Trains: bool }

let methodSpec (key: string) =
    let entry = Smec.Experiments.Methods.MethodRegistry.entry key
    { Key = entry.Key; Row = entry.Label; Trains = entry.Trains }

let truncation = methodSpec "truncation"
let pca = methodSpec "pca"
let mrl = methodSpec "mrl"
let searchAdaptor = methodSpec "search-adaptor"
let matryoshkaAdaptor = methodSpec "matryoshka-adaptor"
let smec = methodSpec "smec"

/// Options the local profile gives a method: one shared selection protocol for every trained method.
/// The same optimiser as SMEC (AdamW, weight decay 0.01; the adaptors' papers report Adam without
/// decay, which the paper profile keeps), the same ranking-loss candidates (InfoNCE and pairwise, the
/// better on validation), and the same step budget per trained dim (Matryoshka-Adaptor's one adaptor
/// serves every dim, so its budget is counted per trained dim; MRL's single layer gets SMEC's whole
/// chain budget, see SmecCompressor.StepBudget). Search-Adaptor trains one adaptor per (dim, grid
/// point), so it keeps one (alpha, beta) point (0.1, 0.01) and searches the loss forms: 2 points, as
/// Matryoshka-Adaptor, MRL and SMEC (whose ADS starts from the log-variance: one start, so 2 points too).
let localMethodOptions (methodSpec: MethodSpec) : (string * string) list =
    let sharedOptimiser = [ "optimizer", "adam-w"; "weight_decay", "0.01" ]
    match methodSpec.Key with
    | "search-adaptor" -> [ "grid", "single"; "ranking_loss_candidates", "info-nce,pairwise" ] @ sharedOptimiser
    | "matryoshka-adaptor" -> [ "budget", "per-trained-dim" ] @ sharedOptimiser
    | _ -> []

/// Options the paper profile gives a method: each paper's reported settings where they differ from
/// the defaults. Matryoshka-Adaptor feeds the raw embeddings to its adaptor (both variants); its
/// Adam, 5000 steps per stage and Search-Adaptor's Adam, pairwise loss and 3 x 3 grid are the defaults.
let paperMethodOptions (methodSpec: MethodSpec) : (string * string) list =
    match methodSpec.Key with
    | "matryoshka-adaptor" -> [ "input", "raw" ]
    | _ -> []

/// Rows of the local text tables (items 2, 3).
let localTextMethods = [ truncation; pca; mrl; searchAdaptor; matryoshkaAdaptor; smec ]

// ---- budgets --------------------------------------------------------------------------------

/// Local profile: the reference run of docs/METHOD.md, "Reference figures on SciFact" (1,500 AdamW steps, batch 64, lr 1e-3) with early
/// stopping; sized so that `make reproduce TABLE=2` fits 20 minutes on 2 cores.
let localBudget =
    { MaxSteps = 1500
      BatchSize = 64
      LearningRate = 1e-3
      Patience = 8
      ValidateEvery = 50 }

/// Paper profile: Matryoshka-Adaptor's reported setup (Adam, lr 1e-3, batch 128, up to 5,000
/// iterations, patience 500 iterations = 5 validations 100 steps apart).
let paperBudget =
    { MaxSteps = 5000
      BatchSize = 128
      LearningRate = 1e-3
      Patience = 5
      ValidateEvery = 100 }

/// The gradient probe (item 8) trains a fixed number of epochs (option "epochs") without early
/// stopping, like the paper's 40-epoch curves; MaxSteps 0 says so.
let probeBudget =
    { MaxSteps = 0
      BatchSize = 64
      LearningRate = 1e-3
      Patience = 0
      ValidateEvery = 0 }

// ---- tolerances -----------------------------------------------------------------------------

/// Added to a published nDCG value's reading precision: seed-to-seed noise of adaptor training,
/// and the BEIR subset behind the paper's average, which is not known. One nDCG point.
let paperNdcgAllowance = Absolute 0.01

/// Gradient magnitudes depend on the initialisation and on toy data the paper does not describe;
/// only their ratios are claimed. A quarter of the value.
let gradientAllowance = Relative 0.25

/// The importance measure behind "83.6% vs 17.4%" is not described (secondary source). 5 points.
let importanceShareAllowance = Absolute 0.05

/// Regression floor for nDCG: one point. Seeds measure training noise on one machine; a fresh
/// clone on another machine also reorders float sums (BLAS kernels), which moved single-seed cells
/// by up to 0.013 and a thread-count change by 0.012 (docs/REPRODUCING.md, "Determinism"). Means of 3 seeds move less; a
/// point covers the rest, and a real change of 5 points still fails.
let ndcgRegressionFloor = Absolute 0.01

/// Gradient statistics are not on nDCG's scale: 2% of the blessed value.
let relativeRegressionFloor = Relative 0.02

/// The regression band's multiple of the standard error of the difference of two seed means:
/// 3, about a two-sided 95% t-quantile with the few degrees of freedom 3 + 3 seeds give, so that a
/// table of ~100 cells rarely flags one by chance. With seed SDs below 0.011, 3 x SE stays under
/// 0.027: a change of 0.05 fails.
let regressionBandK = 3.0

/// Below this difference a failed ">=" between two seed means is within noise (OK*, not FAIL), for
/// claims whose quantities have no per-query scores (the others are judged by intervals).
let claimSlackFloor = 0.002

/// Claim 2 of docs/PAPER-RESULTS.md ("Claims to check"): at full dims all adaptors are "within about 1 point".
let fullDimsAdaptorSpread = 0.01

/// Seeds of every trained cell by default: 3 (1, 2, 3), for a mean and a spread. `--quick` runs
/// seed 1 only, and every number it produces is labelled "quick (1 seed)".
let defaultSeedCount = 3

let defaultSeeds (count: int) =
    if count < 1 then failwithf "the seed count must be at least 1, got %d" count
    [ 1L .. int64 count ]

// ---- what to provide for the paper profile --------------------------------------------------

let manifestHint =
    "pass an embeddings manifest with --embeddings FILE (make reproduce EMBEDDINGS=FILE, or set SMEC_EMBEDDINGS); see README, 'Bringing the paper's embeddings'"
