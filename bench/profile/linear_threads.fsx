// A 384 x 384 linear layer on 128, 256 and 704 rows (the adaptors' shapes) with 1 and 2 torch
// threads: best of 5 x 200 calls. With linear_threads.py it shows where the 2-thread step gap to
// PyTorch comes from (docs/PERFORMANCE.md, "One thread per worker, and the 2-thread gap").
//   OMP_WAIT_POLICY=PASSIVE dotnet fsi bench/profile/linear_threads.fsx   (after make build)
#load "../../Smec.fsx"
open TorchSharp
for threads in [1; 2] do
  torch.set_num_threads threads
  for m in [ 128; 256; 704 ] do
    let a = torch.randn([| int64 m; 384L |])
    let w = torch.randn([| 384L; 384L |])
    let b = torch.randn([| 384L |])
    for _ in 1..50 do (torch.nn.functional.linear(a, w, b)).Dispose()
    let mutable best = 1e9
    for _ in 1..5 do
        let sw = System.Diagnostics.Stopwatch.StartNew()
        for _ in 1..200 do (torch.nn.functional.linear(a, w, b)).Dispose()
        best <- min best (sw.Elapsed.TotalSeconds / 200.0)
    printfn "threads %d linear %dx384x384 %.1f us %.1f GFLOP/s" threads m (best * 1e6) (2.0 * float m * 384.0 * 384.0 / best / 1e9)
