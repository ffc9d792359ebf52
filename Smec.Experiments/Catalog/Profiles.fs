/// The named choices the catalog is built from: encoders, dims ladders, methods, budgets,
/// tolerances. Each value that the paper does not fix says why it is what it is.
module Smec.Experiments.Catalog.Profiles

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Methods

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

/// The panel that averages the local text datasets: the analogue of the paper's BEIR average.
let meanPanelOf (datasets: int) = sprintf "mean of %d" datasets
let meanPanel = meanPanelOf 3

// ---- methods --------------------------------------------------------------------------------

/// A method as the catalog names it: registry key, table row, and whether it learns (the row and
/// the learning flag come from the method registry, the one place they are stated).
type MethodSpec = { Key: string; Row: string; Trains: bool }

let methodSpecOf (entry: MethodRegistry.MethodEntry) = { Key = entry.Key; Row = entry.Label; Trains = entry.Trains }

let truncation = methodSpecOf MethodRegistry.truncation
let pca = methodSpecOf MethodRegistry.pca
let mrl = methodSpecOf MethodRegistry.mrl
let searchAdaptor = methodSpecOf MethodRegistry.searchAdaptor
let matryoshkaAdaptor = methodSpecOf MethodRegistry.matryoshkaAdaptor
let smec = methodSpecOf MethodRegistry.smec

/// Options a profile gives a method: its registry entry's (MethodEntry.ProfileOptions).
let profileOptions (profile: Profile) (methodSpec: MethodSpec) = MethodRegistry.profileOptions profile methodSpec.Key

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
/// by up to 0.013 and a thread-count change by 0.012 (docs/REPRODUCING.md, "Determinism"). Means of 5 seeds move less; a
/// point covers the rest, and a real change of 5 points still fails.
let ndcgRegressionFloor = Absolute 0.01

/// Gradient statistics are not on nDCG's scale: 2% of the blessed value.
let relativeRegressionFloor = Relative 0.02

/// The regression band's multiple of the standard error of the difference of two seed means:
/// 3, about a two-sided 95% t-quantile with the few degrees of freedom 3 + 3 seeds give (conservative for 5 + 5), so that a
/// table of ~100 cells rarely flags one by chance. With seed SDs below 0.011, 3 x SE stays under
/// 0.027: a change of 0.05 fails.
let regressionBandK = 3.0

/// Below this difference a failed ">=" between two seed means is within noise (OK*, not FAIL), for
/// claims whose quantities have no per-query scores (the others are judged by intervals).
let claimSlackFloor = 0.002

/// Claim 2 of docs/PAPER-RESULTS.md ("Claims to check"): at full dims all adaptors are "within about 1 point".
let fullDimsAdaptorSpread = 0.01

/// Seeds of every trained cell by default: 5 (1-5), for a mean and a spread. `--quick` runs
/// seed 1 only, and every number it produces is labelled "quick (1 seed)".
let defaultSeedCount = 5

let defaultSeeds (count: int) =
    if count < 1 then failwithf "the seed count must be at least 1, got %d" count
    [ 1L .. int64 count ]

// ---- what to provide for the paper profile --------------------------------------------------

let manifestHint =
    "pass an embeddings manifest with --embeddings FILE (make reproduce EMBEDDINGS=FILE, or set SMEC_EMBEDDINGS); see README, 'Bringing the paper's embeddings'"
