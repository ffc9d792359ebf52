/// Item 4: image retrieval with a 1024-d encoder (dataset inferred as Products-10K). Local: CIFAR-10
/// and Fashion-MNIST with ResNet18 512-d features, relevance = same class, 32-512 dims.
module Smec.Experiments.Catalog.Items.Item4Image

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Image retrieval across dims: PCA, Search-Adaptor, Matryoshka-Adaptor, SMEC (1024-d image encoder)"

let private chart ours =
    Some { XTitle = "dims"; YTitle = "nDCG@10 x100"; Panels = ours; PublishedPanel = Some "image"; PublishedEncoder = Some image1024 }

let private local (context: CatalogContext) =
    let spec =
        { table 4 Local context title
              "CIFAR-10 and Fashion-MNIST, ResNet18 (ONNX) 512-d features, relevance = same class (binary gain)." with
            Notes =
                [ "Same subsets and split as `smec images --item 4`: compressors learn on 200 training images per class (20 per class held out for validation); each of the 100-per-class test gallery images queries the rest of the gallery, itself excluded." ] }
    MethodTables.localTable spec resnet18 [ "cifar10"; "fashion-mnist" ] false
        [ truncation; pca; searchAdaptor; matryoshkaAdaptor; smec ] localImageDims [ pca; truncation ] Display.percent
        (chart [ "CIFAR-10"; "Fashion-MNIST" ])

let private paper (context: CatalogContext) =
    let spec = table 4 Paper context title "Products-10K (inferred) with a 1024-d image encoder (not named in the public record)."
    MethodTables.paperTable spec context image1024 "Products-10K" "image" [ pca; searchAdaptor; matryoshkaAdaptor; smec ]
        paperDimsImage [ pca ] Display.percent (chart [ "image" ])

let item =
    { Number = 4
      Title = title
      PaperSource = "figure \"1024-d\""
      PaperEncoders = [ image1024 ]
      Build = function Local -> local | Paper -> paper }
