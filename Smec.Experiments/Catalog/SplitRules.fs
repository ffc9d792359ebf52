/// The one place a collection's split rule is decided: the `split` field of its dataset manifest
/// (data-manifests/datasets/*.yaml), else the default data-manifests/README.md states ("Split
/// rule"). The catalog, the side commands and sweeps all take the rule from here, and reports
/// say which rule a dataset got and where it came from.
module Smec.Experiments.Catalog.SplitRules

open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog.Model

/// Validation queries held out of a collection's own train queries by default (SciFact: 100 of
/// its 809, docs/CATALOG.md, "Split rules").
let defaultValidation = 100

/// The smallest validation set of a collection without a train split. Early stopping keeps the
/// step with the best validation nDCG@10; with CACM's former 5 validation queries several trained
/// cells never beat their starting point ("kept start") and equalled PCA to every digit. 12
/// queries let one query move the mean by at most 1/12 instead of 1/5, and still leave CACM (52
/// judged queries, 26 in the train half) 14 to train on. (Two-fold cross-validation would test
/// every query, but doubles the training of every Cranfield and CACM cell, on top of 5 seeds.)
let minHalvesValidation = 12

/// The default for a collection whose manifest states no rule: its own train and test judgements
/// with 100 validation queries when it has train judgements, else its judged queries halved (at
/// least 12 validation queries). Image collections split by class in their own providers; their
/// configs carry the first form.
let defaultRule (hasTrainJudgements: bool) =
    if hasTrainJudgements then GivenTrainTest defaultValidation else QueryHalves minHalvesValidation

/// Where a dataset's rule came from.
type RuleSource =
    /// The manifest's `split` field.
    | Declared of manifestFile: string
    /// No `split` field: the default.
    | Default

/// A manifest's rule and where it came from.
let ofManifest (manifest: DatasetManifest) : SplitRule * RuleSource =
    match manifest.Split with
    | null ->
        let trainJudgements = manifest.Files |> Seq.exists (fun f -> f.Role = "qrels" && f.Split = "train")
        defaultRule (manifest.Kind <> "text-retrieval" || trainJudgements), Default
    | split when split.Rule = SplitSpec.QueryHalves -> QueryHalves split.Validation, Declared manifest.ManifestFile
    | split -> GivenTrainTest split.Validation, Declared manifest.ManifestFile

/// The rule of a dataset the default manifest catalog declares (the default rule with train judgements for one it does not).
let ofDatasetWithSource (id: string) : SplitRule * RuleSource =
    match ManifestCatalog.Default.Datasets.TryGetValue id with
    | true, manifest -> ofManifest manifest
    | _ -> defaultRule true, Default

/// The rule of a dataset the default manifest catalog declares.
let ofDataset (id: string) : SplitRule = fst (ofDatasetWithSource id)

/// One line for reports: the rule and where it came from.
let describe (rule: SplitRule) (source: RuleSource) =
    let text =
        match rule with
        | GivenTrainTest validation -> sprintf "the collection's own train and test judgements, %d train queries held out for validation" validation
        | QueryHalves least -> sprintf "judged queries halved into train and test, a fifth of the train half (at least %d) held out for validation" least
    match source with
    | Declared file -> sprintf "split rule: %s (the manifest's split field, %s)" text file
    | Default -> sprintf "split rule: %s (the default, data-manifests/README.md)" text
