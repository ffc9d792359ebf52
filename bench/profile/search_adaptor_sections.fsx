// Where a Search-Adaptor step's time goes (adapt, project, each loss, backward, optimizer), the
// step of `smec bench` timed by sections: ms per step over 200 steps. Its PyTorch twin is
// search_adaptor_sections.py. Random unit vectors: speed only.
//   OMP_WAIT_POLICY=PASSIVE dotnet fsi bench/profile/search_adaptor_sections.fsx [THREADS]   (after make build)
#load "../../Smec.fsx"
open System
open TorchSharp
open Smec.Core.Losses
open Smec.Core.Methods.Baselines
open Smec.Core.Training
let threads = match fsi.CommandLineArgs with [| _; t |] -> int t | _ -> 1
torch.set_num_threads threads
let g = new torch.Generator(1UL)
let unit (n: int) = torch.nn.functional.normalize(torch.randn([| int64 n; 384L |], generator = g), dim = 1L)
let q, d = unit 128, unit 256
let relevance = torch.cat([| torch.eye(128L); torch.zeros(128L, 128L) |], 1L)
let positive = torch.arange(128L, dtype = torch.ScalarType.Int64)
let model = new SearchAdaptorModel(384, 384, 96)
let predictor = torch.nn.Linear(96L, 384L)
let optimizer = new AdamOptimizer(Seq.append (model.parameters()) (predictor.parameters()) |> Seq.toArray, 1e-3, 0.0, decoupled = false)
let sections = Collections.Generic.Dictionary<string, float>()
let clock = Diagnostics.Stopwatch()
let mark name = sections[name] <- (match sections.TryGetValue name with | true, v -> v | _ -> 0.0) + clock.Elapsed.TotalMilliseconds; clock.Restart()
let step () =
    use scope = torch.NewDisposeScope()
    clock.Restart()
    optimizer.ZeroGrad(); model.train()
    let aq = model.Adapt q
    let ad = model.Adapt d
    mark "adapt"
    let pq = model.Project aq
    let pd = model.Project ad
    mark "project"
    let ranking = RankingLoss.Compute(RankingLossForm.Pairwise, pq, pd, relevance, positive, 0.05)
    mark "ranking"
    let recovery = ReconstructionLoss.Compute(torch.cat([| q; d |], 0L), torch.cat([| aq; ad |], 0L), ReconstructionNorm.L1)
    mark "recovery"
    let positives = pd.index_select(0L, positive)
    let rel = relevance.gather(1L, positive.unsqueeze(1L)).squeeze(1L)
    let prediction = QueryPredictionLoss.Compute(predictor.forward positives, q, rel)
    mark "prediction"
    let loss = ranking.Add(recovery.Times 0.1).Add(prediction.Times 0.1)
    mark "sum"
    loss.backward()
    mark "backward"
    optimizer.Step()
    mark "optimizer"
    loss.item<float32>() |> ignore
    mark "item+dispose"
for _ in 1..20 do step ()
sections.Clear()
let n = 200
let total = Diagnostics.Stopwatch.StartNew()
for _ in 1..n do step ()
printfn "total %.3f ms/step" (total.Elapsed.TotalMilliseconds / float n)
for kv in sections do printfn "  %-12s %.3f" kv.Key (kv.Value / float n)
