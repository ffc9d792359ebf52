/// PCA and truncation on small matrices whose answers are known or computed independently.
module Smec.Tests.Baselines.PcaTruncationTests

open Expecto
open Smec.Core.Storage
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Tests.TestSupport

let private matrix (rows: float32[][]) =
    EmbeddingMatrix([| for i in 0 .. rows.Length - 1 -> sprintf "r%d" i |], Array.concat rows, rows.[0].Length)

let private rowsOf (m: EmbeddingMatrix) = [| for i in 0 .. m.Rows - 1 -> m.Row(i).ToArray() |]

/// Leading eigenvectors of a symmetric matrix by power iteration with deflation: an oracle that
/// shares no code with torch.linalg.eigh.
let private powerIteration (cov: float[,]) (count: int) =
    let n = Array2D.length1 cov
    let a = Array2D.copy cov
    [ for _ in 1 .. count ->
        let mutable v = Array.init n (fun i -> 1.0 / float (i + 1))
        for _ in 1 .. 5000 do
            let w = Array.init n (fun i -> Seq.sum (seq { for j in 0 .. n - 1 -> a.[i, j] * v.[j] }))
            let norm = sqrt (Array.sumBy (fun x -> x * x) w)
            v <- Array.map (fun x -> x / norm) w
        let lambda = Seq.sum (seq { for i in 0 .. n - 1 do for j in 0 .. n - 1 -> v.[i] * a.[i, j] * v.[j] })
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do a.[i, j] <- a.[i, j] - lambda * v.[i] * v.[j]
        // The same sign convention as Pca: largest-magnitude entry positive.
        let pivot = v |> Array.maxBy abs
        if pivot < 0.0 then Array.map (fun x -> -x) v else v ]

[<Tests>]
let tests =
    testList "PcaTruncation" [
        testCase "truncation keeps the first d coordinates and renormalises" <| fun () ->
            let t = new Truncation([ 2 ])
            let out = t.Compress(matrix [| [| 3.0f; 4.0f; 12.0f |] |], 2, EmbeddingRole.Query)
            Expect.sequenceEqual (out.Row(0).ToArray()) [| 0.6f; 0.8f |] "3-4-5 triangle"

        testCase "truncation rejects a dimension it was not built for" <| fun () ->
            let t = new Truncation([ 2; 4 ])
            Expect.throwsC (fun () -> t.Compress(matrix [| [| 1.0f; 2.0f; 3.0f; 4.0f |] |], 3, EmbeddingRole.Query) |> ignore)
                (fun e -> Expect.stringContains e.Message "[4, 2]" "names the dims it can produce")

        testCase "PCA on a known 2-D cloud finds the axes and projects queries with the corpus mean" <| fun () ->
            // Centred on (5, 5); variance 8/3 along x and 2/3 along y, so the components are the axes.
            let corpus = matrix [| [| 7.0f; 5.0f |]; [| 3.0f; 5.0f |]; [| 5.0f; 6.0f |]; [| 5.0f; 4.0f |] |]
            let pca = new Pca([ 2; 1 ])
            pca.FitOn corpus
            let components = pca.ComponentsFloat64()
            Expect.sequenceEqual (components |> Array.map (fun c -> System.Math.Round(c, 12))) [| 1.0; 0.0; 0.0; 1.0 |] "axes, x first"
            let q = pca.Compress(matrix [| [| 6.0f; 7.0f |] |], 2, EmbeddingRole.Query)
            let expected = [| 1.0f / sqrt 5.0f; 2.0f / sqrt 5.0f |]
            Expect.isLessThan (Array.map2 (fun a b -> abs (a - b)) (q.Row(0).ToArray()) expected |> Array.max) 1e-6f "(6,7) - (5,5) = (1,2), normalised"

        testCase "PCA components and projections equal power iteration on a 40 x 6 matrix" <| fun () ->
            let random = System.Random 5
            let scales = [| 5.0; 3.0; 2.0; 1.0; 0.5; 0.2 |]   // well-separated eigenvalues
            let rows = Array.init 40 (fun _ -> Array.init 6 (fun c -> float32 ((random.NextDouble() * 2.0 - 1.0) * scales.[c] + 0.3 * float c)))
            let corpus = matrix rows
            let pca = new Pca([ 3 ])
            pca.FitOn corpus
            let x = rows |> Array.map (Array.map float)
            let mean = Array.init 6 (fun c -> x |> Array.averageBy (fun r -> r.[c]))
            let centred = x |> Array.map (Array.mapi (fun c v -> v - mean.[c]))
            let cov = Array2D.init 6 6 (fun i j -> (centred |> Array.sumBy (fun r -> r.[i] * r.[j])) / 39.0)
            let oracle = powerIteration cov 3
            let components = pca.ComponentsFloat64()   // 6 x 3 row-major
            for k in 0 .. 2 do
                for i in 0 .. 5 do
                    // Power iteration converges geometrically (ratio <= (3/5)^2 per step); 5000 steps reach 1e-10 easily.
                    Expect.floatClose { absolute = 1e-8; relative = 0.0 } components.[i * 3 + k] oracle.[k].[i] (sprintf "component %d, coordinate %d" k i)
            let projected = pca.Compress(corpus, 3, EmbeddingRole.Document) |> rowsOf
            for r in 0 .. 39 do
                let p = oracle |> List.map (fun v -> Array.fold2 (fun s a b -> s + a * b) 0.0 centred.[r] v) |> Array.ofList
                let norm = sqrt (Array.sumBy (fun v -> v * v) p)
                for k in 0 .. 2 do
                    // float32 output: 1e-6 is a few ulps of a unit-norm coordinate.
                    Expect.floatClose { absolute = 1e-6; relative = 0.0 } (float projected.[r].[k]) (p.[k] / norm) (sprintf "row %d coordinate %d" r k)

        testCase "PCA and truncation survive Save and Load bit for bit" <| fun () ->
            let random = System.Random 9
            let rows = Array.init 30 (fun _ -> Array.init 8 (fun _ -> float32 (random.NextDouble())))
            let corpus = matrix rows
            let pca = new Pca([ 4; 2 ])
            pca.FitOn corpus
            use dir = new TempDir()
            pca.Save(System.IO.Path.Combine(dir.Path, "pca"))
            let loaded = Pca.Load(System.IO.Path.Combine(dir.Path, "pca"))
            Expect.sequenceEqual loaded.Dims pca.Dims "dims"
            Expect.equal loaded.Settings.["solver"] pca.Settings.["solver"] "settings"
            Expect.sequenceEqual (loaded.Compress(corpus, 2, EmbeddingRole.Query).Values) (pca.Compress(corpus, 2, EmbeddingRole.Query).Values) "same output"
            let full = Truncation.Full 8
            full.Save(System.IO.Path.Combine(dir.Path, "full"))
            let reloaded = Truncation.Load(System.IO.Path.Combine(dir.Path, "full"))
            Expect.equal reloaded.Name "Full" "name kept"
            Expect.sequenceEqual reloaded.Dims [ 8 ] "dims kept"
            Expect.throwsC (fun () -> Pca.Load(System.IO.Path.Combine(dir.Path, "full")) |> ignore)
                (fun e -> Expect.stringContains e.Message "'Full'" "names what the folder holds")
    ]
