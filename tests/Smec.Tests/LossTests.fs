/// Every loss against a naive loop implementation (the DiffSharp habit) and a float64
/// finite-difference gradient check.
module Smec.Tests.LossTests

open System
open Expecto
open TorchSharp
open Smec.Core.Losses
open Smec.Core.Runtime

let private f64 = torch.ScalarType.Float64

/// A tensor from nested float arrays.
let private tensor2 (rows: float[][]) =
    torch.tensor(Array.concat rows, dtype = f64).reshape(int64 rows.Length, int64 rows.[0].Length)

let private randomRows (rng: Random) n d = Array.init n (fun _ -> Array.init d (fun _ -> rng.NextDouble() * 2.0 - 1.0))

let private cosine (a: float[]) (b: float[]) =
    let dot = Array.fold2 (fun acc x y -> acc + x * y) 0.0 a b
    dot / (sqrt (Array.sumBy (fun x -> x * x) a) * sqrt (Array.sumBy (fun x -> x * x) b))

// ---- naive references -------------------------------------------------------------------------

let private naivePairwise (queries: float[][]) (docs: float[][]) (labels: float[][]) temperature =
    let mutable num, den = 0.0, 0.0
    for i in 0 .. queries.Length - 1 do
        for j in 0 .. docs.Length - 1 do
            for k in 0 .. docs.Length - 1 do
                let yij, yik = labels.[i].[j], labels.[i].[k]
                if yij > yik then
                    let sij = cosine queries.[i] docs.[j] / temperature
                    let sik = cosine queries.[i] docs.[k] / temperature
                    num <- num + (yij - yik) * log (1.0 + exp (sik - sij))
                    den <- den + (yij - yik)
    num / den

let private naiveInfoNce (queries: float[][]) (docs: float[][]) (labels: float[][]) (positive: int[]) temperature =
    [ for i in 0 .. queries.Length - 1 ->
        let s k = cosine queries.[i] docs.[k] / temperature
        let candidates = [ for k in 0 .. docs.Length - 1 do if k = positive.[i] || labels.[i].[k] <= 0.0 then yield s k ]
        log (candidates |> List.sumBy exp) - s positive.[i] ]
    |> List.average

let private naiveSimilarity (teacher: float[][]) (student: float[][]) =
    [ for i in 0 .. teacher.Length - 1 do
        for j in 0 .. teacher.Length - 1 do
            if i <> j then yield abs (cosine teacher.[i] teacher.[j] - cosine student.[i] student.[j]) ]
    |> List.average

let private naiveSxbm (ta: float[][]) (tm: float[][][]) (sa: float[][]) (sm: float[][][]) (valid: bool[][]) =
    [ for i in 0 .. ta.Length - 1 do
        for k in 0 .. tm.[i].Length - 1 do
            if valid.[i].[k] then yield abs (cosine ta.[i] tm.[i].[k] - cosine sa.[i] sm.[i].[k]) ]
    |> List.average

// ---- fixtures ---------------------------------------------------------------------------------

/// 3 queries, 5 docs, graded labels (2 > 1 > 0) with ties, as a batch would hold them.
let private labels = [| [| 2.0; 1.0; 0.0; 0.0; 1.0 |]; [| 0.0; 0.0; 1.0; 0.0; 0.0 |]; [| 0.0; 0.0; 0.0; 1.0; 2.0 |] |]
let private positives = [| 0; 2; 4 |]

/// Central differences in float64 against autograd, on every input element.
let private gradientCheck (name: string) (inputs: float[][][]) (loss: torch.Tensor list -> torch.Tensor) =
    use scope = torch.NewDisposeScope()
    let leaves = inputs |> Array.map (fun rows -> (tensor2 rows).requires_grad_(true)) |> List.ofArray
    let value = loss leaves
    value.backward()
    let analytic = leaves |> List.map (fun t -> t.grad.data<float>().ToArray())
    let h = 1e-6
    let evalAt (which: int) (index: int) (delta: float) =
        use inner = torch.NewDisposeScope()
        let shifted =
            inputs |> Array.mapi (fun w rows ->
                let flat = Array.concat rows
                if w = which then flat.[index] <- flat.[index] + delta
                torch.tensor(flat, dtype = f64).reshape(int64 rows.Length, int64 rows.[0].Length))
            |> List.ofArray
        (loss shifted).item<float>()
    for w in 0 .. inputs.Length - 1 do
        let count = inputs.[w].Length * inputs.[w].[0].Length
        for index in 0 .. count - 1 do
            let numeric = (evalAt w index h - evalAt w index -h) / (2.0 * h)
            // Central differences in float64 are good to ~1e-9 here; 1e-6 leaves room without hiding a wrong gradient.
            Expect.floatClose { absolute = 1e-6; relative = 1e-5 } analytic.[w].[index] numeric
                (sprintf "%s: d loss / d input%d[%d]" name w index)

[<Tests>]
let tests =
    testList "Losses" [
        testCase "pairwise ranking loss equals the naive triple loop" <| fun () ->
            Determinism.ConfigureTorch()
            use scope = torch.NewDisposeScope()
            let rng = Random 1
            let q, d = randomRows rng 3 6, randomRows rng 5 6
            let actual = RankingLoss.Compute(RankingLossForm.Pairwise, tensor2 q, tensor2 d, tensor2 labels, torch.tensor(positives |> Array.map int64), 0.1).item<float>()
            // float64 throughout: only summation order differs.
            Expect.floatClose { absolute = 1e-12; relative = 1e-10 } actual (naivePairwise q d labels 0.1) "pairwise"

        testCase "InfoNCE equals the naive loop and masks other relevant docs" <| fun () ->
            Determinism.ConfigureTorch()
            use scope = torch.NewDisposeScope()
            let rng = Random 2
            let q, d = randomRows rng 3 6, randomRows rng 5 6
            let actual = RankingLoss.Compute(RankingLossForm.InfoNce, tensor2 q, tensor2 d, tensor2 labels, torch.tensor(positives |> Array.map int64), 0.05).item<float>()
            Expect.floatClose { absolute = 1e-12; relative = 1e-10 } actual (naiveInfoNce q d labels positives 0.05) "InfoNCE"

        testCase "similarity preservation equals the naive pair loop" <| fun () ->
            Determinism.ConfigureTorch()
            use scope = torch.NewDisposeScope()
            let rng = Random 3
            let t, s = randomRows rng 6 8, randomRows rng 6 3
            let actual = SimilarityPreservationLoss.Compute(tensor2 t, tensor2 s).item<float>()
            Expect.floatClose { absolute = 1e-12; relative = 1e-10 } actual (naiveSimilarity t s) "similarity preservation"

        testCase "S-XBM alignment equals the naive loop over valid pairs" <| fun () ->
            Determinism.ConfigureTorch()
            use scope = torch.NewDisposeScope()
            let rng = Random 4
            let ta, sa = randomRows rng 3 8, randomRows rng 3 4
            let tm = Array.init 3 (fun _ -> randomRows rng 2 8)
            let sm = Array.init 3 (fun _ -> randomRows rng 2 4)
            let valid = [| [| true; true |]; [| true; false |]; [| false; true |] |]
            let t3 (rows: float[][][]) = torch.tensor(rows |> Array.collect Array.concat, dtype = f64).reshape(3L, 2L, int64 rows.[0].[0].Length)
            let validT = torch.tensor(Array.concat valid).reshape(3L, 2L)
            let actual = SxbmAlignmentLoss.Compute(tensor2 ta, t3 tm, tensor2 sa, t3 sm, validT).item<float>()
            Expect.floatClose { absolute = 1e-12; relative = 1e-10 } actual (naiveSxbm ta tm sa sm valid) "S-XBM"

        testCase "finite differences agree with autograd for every loss (float64)" <| fun () ->
            Determinism.ConfigureTorch()
            let rng = Random 5
            let q, d = randomRows rng 3 4, randomRows rng 5 4
            let lab () = tensor2 labels
            let pos () = torch.tensor(positives |> Array.map int64)
            gradientCheck "pairwise" [| q; d |] (fun xs -> RankingLoss.Compute(RankingLossForm.Pairwise, xs.[0], xs.[1], lab (), pos (), 0.1))
            gradientCheck "InfoNCE" [| q; d |] (fun xs -> RankingLoss.Compute(RankingLossForm.InfoNce, xs.[0], xs.[1], lab (), pos (), 0.1))
            let t, s = randomRows rng 4 5, randomRows rng 4 3
            gradientCheck "similarity" [| s |] (fun xs -> SimilarityPreservationLoss.Compute(tensor2 t, xs.[0]))
            let ta = randomRows rng 3 5
            let tm = randomRows rng 6 5
            let sa, sm = randomRows rng 3 3, randomRows rng 6 3
            let valid () = torch.tensor([| true; true; true; false; true; true |]).reshape(3L, 2L)
            gradientCheck "S-XBM" [| sa; sm |] (fun xs ->
                SxbmAlignmentLoss.Compute(tensor2 ta, (tensor2 tm).view(3L, 2L, 5L), xs.[0], xs.[1].view(3L, 2L, 3L), valid ()))
    ]
