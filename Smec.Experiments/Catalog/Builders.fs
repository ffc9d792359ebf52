/// Small constructors shared by the item files, so that an item reads as its table.
module Smec.Experiments.Catalog.Builders

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.EmbeddingsManifest

/// The measurement name of nDCG@10 at d dims on the test split.
let ndcgAt (dims: int) = sprintf "ndcg@10@%d" dims

/// A retrieval experiment of one method; methods that learn get a budget and a seed.
let retrieval (dataset: string) (encoder: string) (source: DataSource) (split: SplitRule)
              (dims: int list) (budget: TrainingBudget) (methodSpec: MethodSpec) (options: (string * string) list) =
    { Kind = Retrieval
      Dataset = dataset
      Encoder = encoder
      Source = source
      Split = split
      Method = methodSpec.Key
      Options = Map.ofList options
      Dims = dims
      Seed = (if methodSpec.Trains then 1L else 0L)
      Budget = (if methodSpec.Trains then Some budget else None) }

/// A local-profile retrieval experiment on the mirror's data (the local ladder, the local budget).
let localRetrieval (dataset: string) (encoder: string) (methodSpec: MethodSpec) (options: (string * string) list) =
    retrieval dataset encoder Mirror (SplitRules.ofDataset dataset) localDims localBudget methodSpec (profileOptions Local methodSpec @ options)

/// The split rule for an embeddings manifest entry: the default rule (SplitRules), by whether the
/// entry gives train qrels and how many queries they judge (k-fold below SplitRules.kFoldBelow).
let manifestSplit (entry: ManifestEntry) = SplitRules.ofFiles entry.QrelsTrain entry.QrelsTest

/// A paper-profile retrieval experiment on a manifest entry.
let manifestRetrieval (entry: ManifestEntry) (dims: int list) (methodSpec: MethodSpec) (options: (string * string) list) =
    retrieval entry.Dataset entry.Encoder (Manifest entry.Fingerprint) (manifestSplit entry) dims paperBudget methodSpec (profileOptions Paper methodSpec @ options)

/// A cell with the defaults of an nDCG cell (higher is better, nDCG tolerances).
let cell (panel: string) (row: string) (column: string) (display: Display) (value: Quantity) =
    { Panel = panel
      Row = row
      Column = column
      Value = value
      Display = display
      Published = None
      NoiseAllowance = paperNdcgAllowance
      RegressionFloor = ndcgRegressionFloor
      Declared = None
      HigherIsBetter = Some true }

let withPublished (key: Published.PublishedKey) (c: Cell) = { c with Published = Some key }

let term (label: string) (value: Quantity) = { Label = label; Value = value }

/// "first >= second >= ... " style claims: each link is (relation, label, value).
let chain (first: string * Quantity) (rest: (Relation * string * Quantity) list) =
    Chain(term (fst first) (snd first), rest |> List.map (fun (r, l, q) -> r, term l q))

let claim (id: string) (panel: string) (display: Display) (text: string) (assertion: Assertion) =
    { Id = id; Panel = panel; Text = text; Assertion = assertion; Display = display; Slack = Absolute claimSlackFloor }

/// The reason a paper-profile table cannot run, naming the encoders it needs.
let needsManifest (encoders: string list) (what: string) =
    sprintf "needs %s embeddings of %s: %s" (String.concat " and " encoders) what manifestHint

/// Dims columns as strings, in order.
let dimsColumns (dims: int list) = dims |> List.map string

/// The seed-independent part of the table spec every item fills the same way.
let table (item: int) (profile: Profile) (context: CatalogContext) (title: string) (description: string) =
    { Item = item
      Profile = profile
      Title = title
      Description = description
      Panels = []
      Rows = []
      Columns = []
      Cells = []
      Claims = []
      Seeds = context.Seeds
      Notes = []
      Chart = None }
