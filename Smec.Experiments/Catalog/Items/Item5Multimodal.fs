/// Item 5: multimodal retrieval with a 768-d encoder (dataset inferred as Fashion-200K), two panels.
/// Local: Flickr8k-1k in a learned image-caption space; text->image and image->text are the panels.
module Smec.Experiments.Catalog.Items.Item5Multimodal

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Multimodal retrieval across dims: PCA, Search-Adaptor, Matryoshka-Adaptor, SMEC (768-d encoder)"

let private methods = [ pca; searchAdaptor; matryoshkaAdaptor; smec ]

/// The learned joint image-caption space of the local profile (Running.ImageDatasets provides it).
let flickrJoint = "flickr8k-joint"

/// The name under which every item-5 experiment records a figure of the joint space alone
/// (held-out images, full width), e.g. `joint_space.t2i.recall_10` (Running.ImageDatasets records them).
let jointSpaceMeasure (direction: string) (measure: string) = sprintf "joint_space.%s.%s" direction measure

/// The joint space must be a usable encoder before compressing it means anything: its own
/// held-out text->image R@10 of at least 0.5 (recorded with every experiment; PCA's is read).
let jointSpaceRecallFloor = 0.5

let private local (context: CatalogContext) =
    let panels = [ "a: text->image", "flickr8k-1k-t2i"; "b: image->text", "flickr8k-1k-i2t" ]
    // The joint space's dims as `smec images` reports them (its width, 256, is the last).
    let dims = List.ofSeq (Smec.Core.Multimodal.MultimodalConfig().Dims)
    let valueOf dataset (m: MethodSpec) d =
        Measure(retrieval dataset flickrJoint Mirror (SplitRules.ofDataset "flickr8k-1k") dims localBudget m (profileOptions Local m), ndcgAt d)
    { table 5 Local context title
          "Flickr8k-1k (1,000 images x 5 captions) in a learned joint space; panel a = text->image, panel b = image->text." with
        Panels = panels |> List.map fst
        Rows = methods |> List.map (fun m -> m.Row)
        Columns = dimsColumns dims
        Cells = [ for panel, dataset in panels do yield! MethodTables.panelCells panel Display.percent methods dims (valueOf dataset) MethodTables.noPublished ]
        Claims =
            [ let panel, dataset = List.head panels
              yield
                  claim "joint space R@10" panel Display.percent
                      (sprintf "the learned joint space alone (uncompressed, held-out images) ranks a caption's image in its top 10 for at least %.0f%% of captions" (jointSpaceRecallFloor * 100.0))
                      (Bound(term "joint space text->image R@10" (Measure(retrieval dataset flickrJoint Mirror (SplitRules.ofDataset "flickr8k-1k") dims localBudget pca (profileOptions Local pca), jointSpaceMeasure "t2i" "recall_10")),
                             AtLeast, jointSpaceRecallFloor))
              for panel, dataset in panels do yield! Claims.methodsPanelClaims panel Display.percent (valueOf dataset) [ pca ] dims ]
        Notes =
            [ "Same joint space and split as `smec images --item 5` (400 joint-space / 300 compressor-training / 100 validation / 200 held-out images); each direction trains its own compressor. The joint space's own held-out R@1/5/10 is in every result's notes and measurements (joint_space.*); a claim checks its text->image R@10 >= 0.5." ]
        Chart = Some { XTitle = "dims"; YTitle = "nDCG@10 x100"; Panels = panels |> List.map fst; PublishedPanel = Some "b"; PublishedEncoder = Some multimodal768 } }

/// Paper panels a and b come from manifest datasets `fashion200k-a` and `fashion200k-b` (the user
/// says which retrieval direction each is: the public record does not).
let private paper (context: CatalogContext) =
    let entries = context.Manifest |> Option.map (fun m -> m.For multimodal768) |> Option.defaultValue []
    let panelData panel =
        let dataset = "fashion200k-" + panel
        let chosen = entries |> List.filter (fun e -> e.Dataset = dataset)
        let valueOf (m: MethodSpec) d =
            match chosen with
            | [] -> Unavailable(needsManifest [ multimodal768 ] (sprintf "Fashion-200K as dataset '%s'" dataset))
            | _ -> Mean [ for e in chosen -> Measure(manifestRetrieval e paperDimsMultimodal m [], ndcgAt d) ]
        // Panel a was read for SMEC at 128 dims only.
        let key (m: MethodSpec) d : Published.PublishedKey option =
            if panel = "a" && m.Row = smec.Row && d <> 128 then None
            else Some { Item = 5; Panel = panel; Row = m.Row; Encoder = multimodal768; Metric = "ndcg@10"; X = d }
        panel, valueOf, key
    let panels = [ panelData "a"; panelData "b" ]
    { table 5 Paper context title "Fashion-200K (inferred), a 768-d multimodal encoder (not named in the public record), panels a and b." with
        Panels = [ "a"; "b" ]
        Rows = methods |> List.map (fun m -> m.Row)
        Columns = dimsColumns paperDimsMultimodal
        Cells = [ for panel, valueOf, key in panels do yield! MethodTables.panelCells panel Display.percent methods paperDimsMultimodal valueOf key ]
        Claims = [ for panel, valueOf, _ in panels do yield! Claims.methodsPanelClaims panel Display.percent valueOf [ pca ] paperDimsMultimodal ]
        Notes = [ "Panels a and b are manifest datasets 'fashion200k-a' and 'fashion200k-b' standing for multimodal-768d." ]
        Chart = Some { XTitle = "dims"; YTitle = "nDCG@10 x100"; Panels = [ "b" ]; PublishedPanel = Some "b"; PublishedEncoder = Some multimodal768 } }

let item =
    { Number = 5
      Title = title
      PaperSource = "figures \"768-d a/b\""
      PaperEncoders = [ multimodal768 ]
      Build = function Local -> local | Paper -> paper }
