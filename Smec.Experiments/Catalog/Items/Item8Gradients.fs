/// Item 8: gradient magnitude and variance of the weights shared by both nested losses (dims 0-96)
/// and of those used only by the 192-d loss (96-192), MRL vs SMRL, and the training-loss curves.
/// The paper's toy setting (an FC layer to 192 dims, prefixes 96 and 192), on real embeddings.
module Smec.Experiments.Catalog.Items.Item8Gradients

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Gradients of shared vs unshared weights and gradient variance, MRL vs SMRL, with loss curves"

/// The probe's options: FC output size, nested prefixes, epochs (the paper's toy setting).
/// loss_terms = mean: MRL's two nested losses are averaged, so both sides have gradients per loss term
/// (a sum of two losses has larger gradients by construction; "sum" shows that raw form).
let probeOptions = [ "fc_out", "192"; "prefixes", "96,192"; "epochs", "40"; "loss_terms", "mean" ]

/// One probe trains MRL and SMRL from the same init. Its measurements (Running/Probes.fs states the
/// contract) are named per variant v: v.grad_shared@e, v.grad_unshared@e, v.grad_var@e, v.loss@e,
/// v.loss@first, v.loss@last, v.grad_var_mean.
let private probe dataset encoder source split =
    { Kind = GradientProbe
      Dataset = dataset
      Encoder = encoder
      Source = source
      Split = split
      Method = "mrl-vs-smrl"
      Options = Map.ofList probeOptions
      Dims = [ 96; 192 ]
      Seed = 1L
      Budget = Some probeBudget }

/// `probeOf`: the probe experiment, or why it cannot run.
let private build (spec: TableSpec) (probeOf: Result<ExperimentConfig, string>) (published: bool) =
    let m variant name =
        match probeOf with
        | Ok config -> Measure(config, sprintf "%s.%s" variant name)
        | Error reason -> Unavailable reason
    let key panel row metric x : Published.PublishedKey option =
        if published then Some { Item = 8; Panel = panel; Row = row; Encoder = "toy-fc-192"; Metric = metric; X = x } else None
    let gradientCell row variant metric measureName epoch =
        cell "gradients" (sprintf "%s %s" variant row) (string epoch) Display.scientific (m (variant.ToLowerInvariant()) (sprintf "%s@%d" measureName epoch))
        |> fun c ->
            { c with
                Published = key "gradients" variant metric epoch
                NoiseAllowance = gradientAllowance
                RegressionFloor = relativeRegressionFloor
                HigherIsBetter = None }
    let gradientCells =
        [ for variant in [ "SMRL"; "MRL" ] do
              for epoch in [ 0; 10 ] do
                  yield gradientCell "w[0,96]" variant "mean |grad| w[0,96]" "grad_shared" epoch
                  yield gradientCell "w[96,192]" variant "mean |grad| w[96,192]" "grad_unshared" epoch
                  yield gradientCell "variance" variant "grad variance" "grad_var" epoch ]
    let lossCells =
        [ for variant in [ "MRL"; "SMRL" ] do
              for column, measureName, x in [ "0", "loss@first", 0; "40", "loss@last", 40 ] ->
                  cell "loss" variant column Display.raw (m (variant.ToLowerInvariant()) measureName)
                  |> fun c ->
                      { c with
                          Published = key "loss" variant "training loss" x
                          NoiseAllowance = gradientAllowance
                          RegressionFloor = relativeRegressionFloor
                          HigherIsBetter = None } ]
    let claims =
        [ claim "4 variance" "gradients" Display.scientific "SMRL lowers the gradient variance of the shared weights (mean over epochs)"
              (chain ("var SMRL", m "smrl" "grad_var_mean") [ Less, "var MRL", m mrl.Key "grad_var_mean" ])
          claim "4 balance" "gradients" Display.scientific
              "at epoch 0, shared / unshared gradient is larger under MRL than under SMRL (SMRL balances them)"
              (chain ("MRL shared/unshared", Ratio(m mrl.Key "grad_shared@0", m mrl.Key "grad_unshared@0"))
                   [ Greater, "SMRL shared/unshared", Ratio(m "smrl" "grad_shared@0", m "smrl" "grad_unshared@0") ]) ]
        // Gradient statistics are far from nDCG's scale: the slack is relative.
        |> List.map (fun c -> { c with Slack = relativeRegressionFloor })
    { spec with
        Panels = [ "gradients"; "loss" ]
        Rows = [ for v in [ "SMRL"; "MRL" ] do for r in [ "w[0,96]"; "w[96,192]"; "variance" ] -> sprintf "%s %s" v r ] @ [ "MRL"; "SMRL" ]
        Columns = [ "0"; "10"; "40" ]
        Cells = gradientCells @ lossCells
        Claims = claims }

let private local (context: CatalogContext) =
    let spec =
        { table 8 Local context title "SciFact / all-MiniLM-L6-v2 384 -> FC 192, nested losses at 96 and 192, 40 epochs, MRL vs SMRL." with
            Notes =
                [ "MRL and SMRL are trained from the same seeded init; gradients are averaged per epoch (Smec.Core.Analysis.GradientProbe)."
                  "Like with like: MRL's loss is the mean of its two nested terms, (L(192) + L(96)) / 2, so its gradients are per loss term as SMRL's L(192) is; the raw sum would make MRL's gradients larger by construction (probe option loss_terms = sum)." ] }
    build spec (Ok(probe "scifact" miniLM Mirror (SplitRules.ofDataset "scifact"))) false

let private paper (context: CatalogContext) =
    let spec =
        { table 8 Paper context title "The toy setting on the first LLM2Vec-7B entry of the embeddings manifest (the paper's toy data is not stated)." with
            Notes =
                [ "Published gradient values carry a 25% allowance: only their ratios are claimed."
                  "Like with like: MRL's loss is the mean of its two nested terms (probe option loss_terms = mean)." ] }
    let entry = context.Manifest |> Option.bind (fun m -> m.For llm2vec7B |> List.tryHead)
    let probeOf =
        match entry with
        | None -> Error(needsManifest [ llm2vec7B ] "any BEIR dataset")
        | Some e -> Ok(probe e.Dataset e.Encoder (Manifest e.Fingerprint) (manifestSplit e))
    build spec probeOf true

let item =
    { Number = 8
      Title = title
      PaperSource = "gradient figures and loss curves"
      PaperEncoders = [ llm2vec7B ]
      Build = function Local -> local | Paper -> paper }
