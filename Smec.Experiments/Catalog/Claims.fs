/// The paper's qualitative claims (docs/PAPER-RESULTS.md, "Claims to check") as assertions
/// over a methods x dims panel. Each is checked, and reported FAIL with its numbers when it fails.
module Smec.Experiments.Catalog.Claims

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

/// Claim 1 at one dim: SMEC >= Matryoshka-Adaptor >= Search-Adaptor > each unsupervised baseline.
let strongCompressionOrdering (panel: string) (display: Display) (valueOf: MethodSpec -> int -> Quantity)
                              (unsupervised: MethodSpec list) (dims: int) =
    [ for baseline in unsupervised ->
          claim (sprintf "1 @%d vs %s" dims baseline.Row) panel display
              (sprintf "at %d dims: SMEC >= Matryoshka-Adaptor >= Search-Adaptor > %s" dims baseline.Row)
              (chain (smec.Row, valueOf smec dims)
                   [ AtLeast, matryoshkaAdaptor.Row, valueOf matryoshkaAdaptor dims
                     AtLeast, searchAdaptor.Row, valueOf searchAdaptor dims
                     Greater, baseline.Row, valueOf baseline dims ]) ]

/// Claim 2: the gap between methods shrinks as dims grow, and at full dims the adaptors are within
/// about one point of each other.
let gapsShrink (panel: string) (display: Display) (valueOf: MethodSpec -> int -> Quantity)
               (unsupervised: MethodSpec) (smallest: int) (full: int) =
    let adaptors = [ searchAdaptor; matryoshkaAdaptor; smec ]
    let spreadAt d methods = Spread [ for m in methods -> valueOf m d ]
    [ claim "2 gaps shrink" panel display
          (sprintf "the spread of %s and the adaptors at %d dims exceeds the spread at %d dims" unsupervised.Row smallest full)
          (chain (sprintf "spread @%d" smallest, spreadAt smallest (unsupervised :: adaptors))
               [ Greater, sprintf "spread @%d" full, spreadAt full (unsupervised :: adaptors) ])
      claim "2 full dims" panel display
          (sprintf "at %d dims the adaptors are within about %.0f point" full (fullDimsAdaptorSpread * 100.0))
          (Bound(term (sprintf "adaptor spread @%d" full) (spreadAt full adaptors), AtMost, fullDimsAdaptorSpread)) ]

/// Claims 1 and 2 on a panel: ordering at the two smallest dims, gaps shrinking towards full dims.
let methodsPanelClaims (panel: string) (display: Display) (valueOf: MethodSpec -> int -> Quantity)
                       (unsupervised: MethodSpec list) (dims: int list) =
    let sorted = List.sort dims
    let smallestTwo = sorted |> List.truncate 2
    [ for d in smallestTwo do yield! strongCompressionOrdering panel display valueOf unsupervised d
      yield! gapsShrink panel display valueOf (List.head unsupervised) (List.head sorted) (List.last sorted) ]
