/// Robustness of each finding: a claim's verdict under the primary protocol and under protocol
/// variants that change one choice the harness made for every trained method (function class,
/// selection, tuning). A variant is the same table with one option set on every trained experiment
/// that has it, so its experiments are ordinary catalog experiments with their own keys in the same
/// result cache (a sweep or `smec run-experiment KEY` computes the same entries). A finding is
/// robust only when every variant gives the same verdict as the primary protocol: a reviewer's
/// "did the harness handicap the method?" is answered by the variants, not by argument.
module Smec.Experiments.Verdicts.Robustness

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Verdicts.Checks

/// One protocol variant: the options it sets on every trained experiment whose method has them.
type Variant =
    { Name: string
      /// The reviewer's question it answers.
      Question: string
      Options: (string * string) list }

/// The variants of issue 26: capacity, selection and tuning, each one change from the primary protocol.
let standardVariants =
    [ { Name = "residual MLP"
        Question = "capacity: every trained method's learned maps as residual MLPs instead of linear maps"
        Options = [ "function_class", "residual-mlp" ] }
      { Name = "shared selection"
        Question = "selection: one checkpoint and grid point chosen on the mean over dims instead of per dim"
        Options = [ "selection", "shared" ] }
      { Name = "untuned"
        Question = "tuning: each method's default weights and learning rate instead of its tuning grid"
        Options = [ "tuning", "default" ] } ]

/// The variant of a name (case-insensitive), or the names known.
let tryFind (name: string) =
    standardVariants |> List.tryFind (fun v -> v.Name.Equals(name.Trim(), System.StringComparison.OrdinalIgnoreCase))

/// A config with the variant's options set, where its method is trained and has the option
/// (`hasOption method name`); any other config is left as it is (PCA and truncation learn nothing).
let applyTo (hasOption: string -> string -> bool) (variant: Variant) (config: ExperimentConfig) =
    if config.Budget.IsNone then config
    else
        let options =
            variant.Options
            |> List.fold (fun (acc: Map<string, string>) (name, value) -> if hasOption config.Method name then acc.Add(name, value) else acc) config.Options
        { config with Options = options }

let rec private mapQuantity (f: ExperimentConfig -> ExperimentConfig) (q: Quantity) =
    match q with
    | Measure(config, measure) -> Measure(f config, measure)
    | Mean qs -> Mean(qs |> List.map (mapQuantity f))
    | Difference(a, b) -> Difference(mapQuantity f a, mapQuantity f b)
    | Ratio(a, b) -> Ratio(mapQuantity f a, mapQuantity f b)
    | Spread qs -> Spread(qs |> List.map (mapQuantity f))
    | LosslessFactor(full, reference, candidates) ->
        LosslessFactor(full, mapQuantity f reference, candidates |> List.map (fun (d, c) -> d, mapQuantity f c))
    | Constant _ | Unavailable _ -> q

let private mapTerm f (term: ClaimTerm) = { term with Value = mapQuantity f term.Value }

/// The table under a variant: every cell and claim reads the variant's experiments.
let specOf (hasOption: string -> string -> bool) (variant: Variant) (spec: TableSpec) : TableSpec =
    let f = applyTo hasOption variant
    { spec with
        Cells = spec.Cells |> List.map (fun c -> { c with Value = mapQuantity f c.Value })
        Claims =
            spec.Claims
            |> List.map (fun c ->
                let assertion =
                    match c.Assertion with
                    | Chain(first, rest) -> Chain(mapTerm f first, rest |> List.map (fun (r, t) -> r, mapTerm f t))
                    | Bound(t, r, v) -> Bound(mapTerm f t, r, v)
                { c with Assertion = assertion }) }

/// Whether a variant changes any experiment of the table (no trained method has its options: not applicable).
let changes (hasOption: string -> string -> bool) (variant: Variant) (spec: TableSpec) = specOf hasOption variant spec <> spec

/// A claim's verdict under the primary protocol and each variant (None: the variant does not apply to
/// the table, or its claim could not be judged).
type Row =
    { Panel: string
      ClaimId: string
      Text: string
      Primary: Status
      Variants: (string * Status option) list }

    /// Robust: every applicable variant gives the primary's verdict. None when no variant was judged,
    /// or when the primary protocol itself could not judge the claim (SKIPPED is no verdict).
    member this.Robust =
        let judged = this.Variants |> List.choose snd
        if judged.IsEmpty || this.Primary = Skipped then None else Some(judged |> List.forall ((=) this.Primary))

    /// What the verdict says, with a different verdict under a variant named.
    member this.Summary =
        match this.Robust with
        | None when this.Primary = Skipped -> "not judged (SKIPPED under the primary protocol)"
        | None -> "not tested (no variant judged it)"
        | Some true -> "robust: the same verdict under every variant"
        | Some false ->
            let differing =
                this.Variants
                |> List.choose (fun (name, s) -> match s with Some s when s <> this.Primary -> Some(sprintf "%s under %s" (Status.name s) name) | _ -> None)
            sprintf "NOT robust: %s (primary %s)" (String.concat ", " differing) (Status.name this.Primary)

/// The rows of a table's claims, from the primary claims and each variant's (in the order given).
let rows (primary: ClaimResult list) (variants: (Variant * ClaimResult list option) list) : Row list =
    primary
    |> List.map (fun c ->
        { Panel = c.Claim.Panel
          ClaimId = c.Claim.Id
          Text = c.Claim.Text
          Primary = c.Status
          Variants =
            variants
            |> List.map (fun (v, claims) ->
                v.Name,
                // A variant whose experiments are not all stored (SKIPPED) has no verdict to compare.
                claims
                // Claim ids repeat across panels (a dataset and the mean): a claim is its panel and id.
                |> Option.bind (List.tryFind (fun vc -> vc.Claim.Id = c.Claim.Id && vc.Claim.Panel = c.Claim.Panel))
                |> Option.map (fun vc -> vc.Status)
                |> Option.filter ((<>) Skipped)) })

/// The robustness table as Markdown.
let markdown (variants: Variant list) (rows: Row list) =
    let text = System.Text.StringBuilder()
    let line (s: string) = text.AppendLine s |> ignore
    line "## Robustness of each finding"
    line ""
    line "Each claim's verdict under the primary protocol and under each variant (one protocol choice changed for every trained method); a finding is robust only when every variant gives the same verdict."
    line ""
    for v in variants do line (sprintf "- **%s**: %s (%s)." v.Name v.Question (v.Options |> List.map (fun (k, x) -> k + "=" + x) |> String.concat ", "))
    line ""
    line ("| panel | claim | primary | " + (variants |> List.map (fun v -> v.Name) |> String.concat " | ") + " | robust |")
    line ("|---|---|---|" + (variants |> List.map (fun _ -> "---") |> String.concat "|") + "|---|")
    for r in rows do
        let cells = r.Variants |> List.map (fun (_, s) -> match s with Some s -> Status.name s | None -> "n/a")
        let robust = match r.Robust with Some true -> "yes" | Some false -> "**no**" | None -> "n/a"
        line (sprintf "| %s | %s | %s | %s | %s |" r.Panel r.ClaimId (Status.name r.Primary) (String.concat " | " cells) robust)
    text.ToString()
