/// What the catalog commands (reproduce, bless, check, list) share: the repository, the published
/// values, the embeddings manifest, the run environment, and error reporting.
module Smec.Experiments.Cli.CatalogSession

open Spectre.Console
open Smec.Core.Data
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running

type Session =
    { RepoRoot: string
      Published: Published.PublishedTable
      Environment: Environment.RunEnvironment
      Context: CatalogContext }

let repoRoot () =
    match Option.ofObj (RepoPaths.TryFindRoot()) with
    | Some root -> root
    | None -> Smec.Experiments.Cli.UserErrors.userError "%s: not inside the repository (no Smec.sln above it); expected to run smec inside a checkout" (System.IO.Directory.GetCurrentDirectory())

/// Progress lines go to the terminal as plain text.
let consoleProgress (line: string) = AnsiConsole.MarkupLine(Markup.Escape line)

/// Tables are wide: when the output is not a terminal (make, a log file), Spectre would assume 80
/// columns and wrap every cell; 140 keeps a table per screen.
let widenRedirectedOutput () =
    if System.Console.IsOutputRedirected && AnsiConsole.Profile.Width < 140 then AnsiConsole.Profile.Width <- 140

let openSession (manifestPath: string option) (seeds: int option) (resultsDir: string option) (progress: string -> unit) =
    widenRedirectedOutput ()
    let root = repoRoot ()
    let manifest = EmbeddingsManifest.tryResolve manifestPath
    let env = Environment.standard root manifest progress
    let env = match resultsDir with Some d -> { env with ResultsDir = System.IO.Path.GetFullPath d } | None -> env
    let seedCount = defaultArg seeds Profiles.defaultSeedCount
    if seedCount < 1 then Smec.Experiments.Cli.UserErrors.userError "--seeds: %d is not positive; expected a number >= 1" seedCount
    { RepoRoot = root
      Published = Published.load (Published.defaultPath root)
      Environment = env
      Context = { Seeds = Profiles.defaultSeeds seedCount; Manifest = manifest } }

/// The seed count from `--seeds N` and `--quick` (one seed, labelled as a quick run).
let seedCount (seeds: int option) (quick: bool) =
    match seeds, quick with
    | Some n, true when n <> 1 -> failwithf "give either --quick (1 seed) or --seeds %d, not both" n
    | _, true -> Some 1
    | seeds, false -> seeds

let parseProfile (text: string option) =
    match Profile.parse (defaultArg text "local") with
    | Ok p -> p
    | Error message -> Smec.Experiments.Cli.UserErrors.userError "--profile: %s" message

/// Run a catalog command. Errors take the program's one error path (Program.report: a user
/// mistake is one `error:` line and exit code 2).
let guard (command: unit -> int) = command ()
