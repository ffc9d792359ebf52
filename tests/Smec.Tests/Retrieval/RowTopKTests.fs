/// RowTopK (the CPU selection inside exact search) against torch.topk, the oracle: the same values
/// per row, each with its own column, ties and masked (-inf) scores included.
module Smec.Tests.Retrieval.RowTopKTests

open System
open Expecto
open TorchSharp
open Smec.Core.Retrieval
open Smec.Core.Runtime

/// Scores on a few levels (many ties) with some -inf (masked documents).
let private block (seed: int) (rows: int) (n: int) =
    let random = Random seed
    let values =
        Array.init (rows * n) (fun _ -> if random.Next 20 = 0 then Single.NegativeInfinity else float32 (random.Next 7) * 0.25f)
    torch.tensor(values).reshape(int64 rows, int64 n)

[<Tests>]
let tests =
    testList "Retrieval/RowTopK" [
        for rows, n, k in [ 1, 1, 1; 7, 9, 1; 7, 9, 9; 33, 100, 5; 5, 1003, 101; 3, 16, 8 ] do
            test (sprintf "%d rows x %d scores, k = %d: torch.topk's values, each at its own column" rows n k) {
                Determinism.ConfigureTorch()
                use scores = block (rows * 31 + n + k) rows n
                let values = Array.zeroCreate<float32> (rows * k)
                let indices = Array.zeroCreate<int64> (rows * k)
                RowTopK.Compute(scores, k, values, indices, 2)
                let struct (expected, _) = scores.topk(k, dim = 1, largest = true, sorted = true)
                Expect.sequenceEqual values (expected.data<float32>().ToArray()) "the same values, largest first"
                let all = scores.data<float32>().ToArray()
                for r in 0 .. rows - 1 do
                    let columns = indices.[r * k .. r * k + k - 1]
                    Expect.equal (Array.distinct columns).Length k (sprintf "row %d: k distinct columns" r)
                    for i in 0 .. k - 1 do
                        Expect.equal all.[r * n + int columns.[i]] values.[r * k + i] (sprintf "row %d: entry %d is its column's score" r i)
            }
        test "a NaN score is an error that says so" {
            use scores = torch.tensor([| 0.5f; nanf; 0.1f; 0.2f; 0.3f; 0.4f; 0.6f; 0.7f; 0.8f; 0.9f |]).reshape(1L, 10L)
            let message =
                try
                    RowTopK.Compute(scores, 2, Array.zeroCreate 2, Array.zeroCreate 2, 1)
                    ""
                with :? ArgumentException as e -> e.Message
            Expect.stringContains message "NaN" "names the problem"
            Expect.stringContains message "column 1" "and where"
        }
        test "NaN past the first vector is caught too" {
            let values = Array.init 40 (fun i -> float32 i)
            values.[37] <- nanf
            use scores = torch.tensor(values).reshape(1L, 40L)
            Expect.throwsT<ArgumentException> (fun () -> RowTopK.Compute(scores, 3, Array.zeroCreate 3, Array.zeroCreate 3, 1)) "NaN in the scalar tail or a vector"
        }
    ]
