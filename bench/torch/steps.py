#!/usr/bin/python3
"""PyTorch references of the training steps `smec bench` times (bench/BenchSteps.fs).

Each case is the same computation as the .NET step, written directly in PyTorch: the same losses
(InfoNCE / pairwise ranking, Matryoshka-Adaptor's top-k, pairwise and reconstruction terms,
Search-Adaptor's recovery and query-prediction terms, SMEC's ADS selection and S-XBM alignment), the
same residual adaptor, the same Adam(W). SMEC's step reads the first steps' ADS noise from the export
(so both sides sample the same dims) and draws its own after that.
Inputs and initial weights come from the folder `smec bench` exported (name.npy, flattened, shapes in
manifest.txt), so both sides start from identical numbers.

  steps.py check DIR CASE [TOL]  run as many steps as dotnet_losses.npy holds (an ensemble: K losses a step);
                                 exit 1 if a loss differs by > TOL (1e-4)
  steps.py serve THREADS         read "DIR CASE STEPS" lines on stdin, answer the seconds STEPS steps took

Run with Debian's python3-torch (/usr/bin/python3).
"""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from functorch import vmap

PREFIXES = [192, 96, 48, 24]
TEMPERATURE = 0.05


def load(folder):
    tensors = {}
    with open(f"{folder}/manifest.txt") as manifest:
        for line in manifest:
            name, shape = line.split()
            shape = [int(s) for s in shape.split(",")] if shape else []
            values = np.load(f"{folder}/{name}.npy").reshape(shape)
            tensors[name] = torch.from_numpy(values.astype(np.float32))
    if "positive_column" in tensors:
        tensors["positive_column"] = tensors["positive_column"].long()
    return tensors


def scores(queries, docs):
    return F.normalize(queries, dim=1) @ F.normalize(docs, dim=1).t() / TEMPERATURE


def info_nce(s, relevance, positive):
    columns = torch.arange(s.shape[1]).unsqueeze(0)
    masked = (relevance > 0) & ~(columns == positive.unsqueeze(1))
    return F.cross_entropy(s.masked_fill(masked, float("-inf")), positive)


def pairwise(s, relevance):
    preferred = (relevance > 0).nonzero()
    query, doc = preferred[:, 0], preferred[:, 1]
    row_scores, row_labels = s[query], relevance[query]
    preferred_score = row_scores.gather(1, doc.unsqueeze(1))
    preferred_label = row_labels.gather(1, doc.unsqueeze(1))
    weight = (preferred_label - row_labels).relu()
    return (weight * F.softplus(row_scores - preferred_score)).sum() / weight.sum().clamp_min(1e-12)


def nested_info_nce(queries, docs, t):
    return sum(info_nce(scores(queries[:, :m], docs[:, :m]), t["relevance"], t["positive_column"]) for m in PREFIXES)


def prefix(rows, m):
    return F.normalize(rows[..., :m], p=2.0, dim=-1)


def top_k_similarity(anchors, adapted_anchors, neighbours, adapted_neighbours):
    target = (F.normalize(neighbours, dim=2) * F.normalize(anchors, dim=1).unsqueeze(1)).sum(2)
    total = sum(((prefix(adapted_neighbours, m) * prefix(adapted_anchors, m).unsqueeze(1)).sum(2) - target).abs().mean()
                for m in PREFIXES)
    return total / len(PREFIXES)


def pairwise_similarity(original, adapted):
    unit = F.normalize(original, dim=1)
    target = unit @ unit.t()
    upper = torch.ones(original.shape[0], original.shape[0], dtype=torch.bool).triu(1)
    total = sum((prefix(adapted, m) @ prefix(adapted, m).t() - target).abs().masked_select(upper).mean() for m in PREFIXES)
    return total / len(PREFIXES)


class RelaxedTopK(torch.autograd.Function):
    """Xie and Ermon's relaxed top-k (k successive softmaxes, each damping the previous picks by
    log(1 - p)) with a hand-written backward, as the .NET side has: recorded as autograd ops it would be
    thousands of tiny nodes per step. Float64 inside, as the .NET loops."""
    FLOOR = 1e-12

    @staticmethod
    def forward(ctx, keys, k):
        scores = keys.detach().double()
        soft = torch.zeros_like(scores)
        probabilities = []
        for j in range(k):
            p = torch.softmax(scores, 0)
            soft += p
            probabilities.append(p)
            if j + 1 < k:
                scores = scores + torch.log(torch.clamp(1 - p, min=RelaxedTopK.FLOOR))
        ctx.save_for_backward(torch.stack(probabilities))
        return soft.to(keys.dtype)

    @staticmethod
    def backward(ctx, grad_soft):
        (probabilities,) = ctx.saved_tensors
        k = probabilities.shape[0]
        grad_soft = grad_soft.double()
        g = torch.zeros_like(grad_soft)
        for j in range(k - 1, -1, -1):
            p = probabilities[j]
            gp = grad_soft.clone()
            if j + 1 < k:
                gp = torch.where(1 - p > RelaxedTopK.FLOOR, gp - g / (1 - p), gp)
            g = (g if j + 1 < k else torch.zeros_like(g)) + p * (gp - (gp * p).sum())
        return g.float(), None


def ads_mask(logits, uniform, keep, temperature=1.0):
    """Gumbel top-k over the logits: 1 on the kept dims, 0 elsewhere, the relaxed top-k's gradient."""
    keys = logits / temperature - torch.log(-torch.log(uniform.clamp(1e-10, 1.0)))
    kept = keys.detach().topk(keep).indices.sort().values
    hard = torch.zeros_like(logits).scatter(0, kept, torch.ones(keep))
    soft = RelaxedTopK.apply(keys, keep)
    return hard + soft - soft.detach()


def sxbm_alignment(teacher_cos, student_anchors, student_memory, valid):
    student_cos = (F.normalize(student_memory, dim=2) @ F.normalize(student_anchors, dim=1).unsqueeze(2)).squeeze(2)
    return (teacher_cos - student_cos).abs().masked_select(valid).mean()


class ResidualAdaptor:
    def __init__(self, t, name):
        self.mean, self.basis = t[f"{name}inputMean"], t[f"{name}inputBasis"]
        self.hidden_w, self.hidden_b = t[f"{name}hidden.weight"], t[f"{name}hidden.bias"]
        self.output_w, self.output_b = t[f"{name}output.weight"], t[f"{name}output.bias"]
        self.parameters = [self.hidden_w, self.hidden_b, self.output_w, self.output_b]

        # No input map (zero mean, identity basis): the adaptor sees e itself, with no product.
        self.has_map = bool(self.mean.count_nonzero() != 0) or not torch.equal(self.basis, torch.eye(self.basis.shape[0]))

    def centre(self, e):
        return (e - self.mean) @ self.basis if self.has_map else e

    def forward_centred(self, x):
        return x + F.linear(F.relu(F.linear(x, self.hidden_w, self.hidden_b)), self.output_w, self.output_b)

    def __call__(self, e):
        return self.forward_centred(self.centre(e))


def build(t, case):
    """The case's parameters, optimizer and loss function (closure over the exported inputs)."""
    if case == "mrl":
        w, b = t["layer.weight"], t["layer.bias"]
        params = [w, b]
        loss = lambda: nested_info_nce(F.linear(t["queries"], w, b), F.linear(t["docs"], w, b), t)
        optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    elif case == "smec":
        w, b = t["step.layer.weight"], t["step.layer.bias"]
        logits = t["step.selections.0.logits"]
        params = [w, b, logits]
        queries, docs, memory = t["queries"], t["docs"], t["memory"]
        noise = iter(t["noise"])
        batch, top_k, keep = queries.shape[0], 10, logits.shape[0] // 2
        memory_ids = torch.arange(memory.shape[0])
        query_ids = memory.shape[0] + torch.arange(batch)
        # The anchors' cosines to every item, once (ItemCosines on the .NET side); items = memory, then queries.
        table = F.normalize(queries, dim=1) @ F.normalize(torch.cat([memory, queries]), dim=1).t()

        def loss():
            # S-XBM: each query's top-k memory entries by frozen cosine, never its own item or an empty slot.
            sims = table.index_select(1, memory_ids.clamp_min(0))
            blocked = (memory_ids < 0).unsqueeze(0) | (memory_ids.unsqueeze(0) == query_ids.unsqueeze(1))
            values, slots = sims.masked_fill(blocked, float("-inf")).topk(top_k, dim=1)
            valid = values.isfinite()
            unique, inverse = torch.unique(memory_ids[slots.flatten()], return_inverse=True)
            inputs = torch.cat([queries, docs, memory[unique]])
            memory_index = 3 * batch + inverse
            output = F.linear(inputs, w, b)
            uniform = next(noise, None)
            mask = ads_mask(logits, uniform if uniform is not None else torch.rand(logits.shape[0]), keep)
            teacher_memory = inputs[memory_index].view(batch, top_k, -1)
            teacher_cos = (F.normalize(teacher_memory, dim=2) @ F.normalize(inputs[:batch], dim=1).unsqueeze(2)).squeeze(2)
            total = 0
            for view in (output, output * mask):
                total = total + info_nce(scores(view[:batch], view[batch:3 * batch]), t["relevance"], t["positive_column"])
                total = total + sxbm_alignment(teacher_cos, view[:batch], view[memory_index].view(batch, top_k, -1), valid)
            return total
        optimizer = torch.optim.AdamW([{"params": [w, b], "lr": 1e-3, "weight_decay": 0.01},
                                       {"params": [logits], "lr": 1e-2, "weight_decay": 0.0}])
    elif case in ("ma-unsupervised", "ma-supervised"):
        adaptor = ResidualAdaptor(t, "adaptor.")
        params = adaptor.parameters
        anchors, neighbours = t["anchors"], t["neighbours"]

        def loss():
            a, n = adaptor.centre(anchors), adaptor.centre(neighbours)
            adapted_anchors, adapted_neighbours = adaptor.forward_centred(a), adaptor.forward_centred(n)
            total = (top_k_similarity(a, adapted_anchors, n, adapted_neighbours)
                     + pairwise_similarity(a, adapted_anchors) * 1.0
                     + (adapted_anchors - a).abs().mean() * 1.0)
            if case == "ma-supervised":
                total = total + nested_info_nce(adaptor(t["queries"]), adaptor(t["docs"]), t) * (1.0 / len(PREFIXES))
            return total
        optimizer = torch.optim.Adam(params, lr=1e-3, weight_decay=0.0)
    elif case == "search-adaptor":
        adaptor = ResidualAdaptor(t, "model.adaptor.")
        proj_w, proj_b = t["model.projection.weight"], t["model.projection.bias"]
        pred_w, pred_b = t["predictor.weight"], t["predictor.bias"]
        params = adaptor.parameters + [proj_w, proj_b, pred_w, pred_b]

        def loss():
            q, d = t["queries"], t["docs"]
            adapted_q, adapted_d = adaptor(q), adaptor(d)
            pq, pd = F.linear(adapted_q, proj_w, proj_b), F.linear(adapted_d, proj_w, proj_b)
            ranking = pairwise(scores(pq, pd), t["relevance"])
            recovery = (torch.cat([adapted_q, adapted_d]) - torch.cat([q, d])).abs().mean()
            positive = t["positive_column"]
            predicted = F.linear(pd.index_select(0, positive), pred_w, pred_b)
            weights = t["relevance"].gather(1, positive.unsqueeze(1)).squeeze(1)
            prediction = ((predicted - q).abs().mean(1) * weights).sum() / weights.sum()
            return ranking + recovery * 0.1 + prediction * 0.1
        optimizer = torch.optim.Adam(params, lr=1e-3, weight_decay=0.0)
    elif case == "mrl-ensemble":
        # K MRL members as one model (smec bench's ensemble rows): PyTorch's model-ensembling recipe,
        # functorch.vmap of one member's loss over weights and batches stacked on a leading member dim.
        w, b = t["layer.weight"], t["layer.bias"]
        params = [w, b]

        def member(w, b, queries, docs, relevance, positive):
            return nested_info_nce(F.linear(queries, w, b), F.linear(docs, w, b),
                                   {"relevance": relevance, "positive_column": positive})
        members = vmap(member)
        loss = lambda: members(w, b, t["queries"], t["docs"], t["relevance"], t["positive_column"])
        optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    elif case == "smec-ensemble":
        # K SMEC step members, hand-batched (baddbmm): each member its own memory and anchor-cosine table, its own
        # ADS draw (a loop: the relaxed top-k is one vector at a time, as on the .NET side), then one batched
        # forward and loss. The memory rows are not deduplicated (every chosen slot is a row): the same values.
        w, b, logits = t["step.layer.weight"], t["step.layer.bias"], t["step.selections.0.logits"]
        params = [w, b, logits]
        queries, docs, memory, noise = t["queries"], t["docs"], t["memory"], t["noise"]
        relevance, positive = t["relevance"], t["positive_column"]
        k, batch = queries.shape[0], queries.shape[1]
        top_k, keep, size = 10, logits.shape[1] // 2, memory.shape[1]
        # The anchors' cosines to every memory item, once (ItemCosines); memory items 0 .. size-1, then the
        # queries, so a query is never its own memory entry. The search itself runs every step, as training's.
        table = F.normalize(queries, dim=2) @ F.normalize(memory, dim=2).transpose(1, 2)   # [K, B, size]
        memory_index = 3 * batch + torch.arange(batch * top_k)
        columns = torch.arange(docs.shape[1]).view(1, 1, -1)
        masked = (relevance > 0) & ~(columns == positive.unsqueeze(2))
        draws = [0]

        def loss():
            step = draws[0]
            draws[0] += 1
            values, slots = table.topk(top_k, dim=2)
            valid = values.isfinite()
            chosen = memory.gather(1, slots.reshape(k, -1, 1).expand(k, batch * top_k, memory.shape[2]))
            inputs = torch.cat([queries, docs, chosen], 1)
            teacher_memory = inputs[:, memory_index].view(k, batch, top_k, -1)
            teacher_cos = (F.normalize(teacher_memory, dim=3) @ F.normalize(queries, dim=2).unsqueeze(3)).squeeze(3)
            output = torch.baddbmm(b.unsqueeze(1), inputs, w.transpose(1, 2))
            mask = torch.stack([ads_mask(logits[m], noise[m][step] if step < noise.shape[1] else torch.rand(logits.shape[1]), keep)
                                for m in range(k)])
            total = 0
            for view in (output, output * mask.unsqueeze(1)):
                q, d = view[:, :batch], view[:, batch:3 * batch]
                s = F.normalize(q, dim=2) @ F.normalize(d, dim=2).transpose(1, 2) / TEMPERATURE
                ranking = F.cross_entropy(s.masked_fill(masked, float("-inf")).reshape(k * batch, -1), positive.reshape(-1),
                                          reduction="none").view(k, batch).mean(1)
                student = view[:, memory_index].view(k, batch, top_k, -1)
                student_cos = (F.normalize(student, dim=3) @ F.normalize(q, dim=2).unsqueeze(3)).squeeze(3)
                alignment = ((teacher_cos - student_cos).abs() * valid).sum((1, 2)) / valid.sum((1, 2)).clamp_min(1)
                total = total + ranking + alignment
            return total
        optimizer = torch.optim.AdamW([{"params": [w, b], "lr": 1e-3, "weight_decay": 0.01},
                                       {"params": [logits], "lr": 1e-2, "weight_decay": 0.0}])
    elif case == "search-adaptor-ensemble":
        # K Search-Adaptor members, hand-batched (baddbmm): vmap cannot express the pairwise loss, whose
        # judged pairs (nonzero) differ in number between members. The pairs of the fixed batch are found once.
        names = ["model.adaptor.hidden.weight", "model.adaptor.hidden.bias", "model.adaptor.output.weight",
                 "model.adaptor.output.bias", "model.projection.weight", "model.projection.bias",
                 "predictor.weight", "predictor.bias"]
        hw, hb, ow, ob, pw, pb, qw, qb = params = [t[n] for n in names]
        q, d, relevance, positive = t["queries"], t["docs"], t["relevance"], t["positive_column"]
        k, b, m = relevance.shape
        preferred = (relevance > 0).nonzero()
        member, row, column = preferred[:, 0], preferred[:, 0] * b + preferred[:, 1], preferred[:, 2:]

        def affine(x, w, bias):
            return torch.baddbmm(bias.unsqueeze(1), x, w.transpose(1, 2))

        def loss():
            x = torch.cat([q, d], 1)
            adapted = x + affine(F.relu(affine(x, hw, hb)), ow, ob)
            projected = affine(adapted, pw, pb)
            pq, pd = projected[:, :b], projected[:, b:]
            s = F.normalize(pq, dim=2) @ F.normalize(pd, dim=2).transpose(1, 2) / TEMPERATURE
            row_scores, row_labels = s.reshape(k * b, m)[row], relevance.reshape(k * b, m)[row]
            weight = (row_labels.gather(1, column) - row_labels).relu()
            terms = (weight * F.softplus(row_scores - row_scores.gather(1, column))).sum(1)
            ranking = torch.zeros(k).index_add(0, member, terms) / torch.zeros(k).index_add(0, member, weight.sum(1)).clamp_min(1e-12)
            recovery = (adapted - x).abs().mean((1, 2))
            predicted = affine(pd.gather(1, positive.unsqueeze(2).expand(k, b, pd.shape[2])), qw, qb)
            weights = relevance.gather(2, positive.unsqueeze(2)).squeeze(2)
            prediction = ((predicted - q).abs().mean(2) * weights).sum(1) / weights.sum(1)
            return ranking + recovery * 0.1 + prediction * 0.1
        optimizer = torch.optim.Adam(params, lr=1e-3, weight_decay=0.0)
    elif case == "ma-supervised-ensemble":
        # K Matryoshka-Adaptor members (supervised stage, alpha = beta = gamma = 1, InfoNCE), hand-batched (baddbmm)
        # as the Search-Adaptor ensemble. The rows are already in each member's input space (training maps once).
        names = ["adaptor.hidden.weight", "adaptor.hidden.bias", "adaptor.output.weight", "adaptor.output.bias"]
        hw, hb, ow, ob = params = [t[n] for n in names]
        anchors, neighbours, q, d = t["anchors"], t["neighbours"], t["queries"], t["docs"]
        relevance, positive = t["relevance"], t["positive_column"]
        k, r, top_k, dim = neighbours.shape
        b, m = q.shape[1], d.shape[1]
        upper = torch.ones(r, r).triu(1)
        columns = torch.arange(m).view(1, 1, m)
        masked = (relevance > 0) & ~(columns == positive.unsqueeze(2))

        def affine(x, w, bias):
            return torch.baddbmm(bias.unsqueeze(1), x, w.transpose(1, 2))

        def loss():
            def adapt(x):
                return x + affine(F.relu(affine(x, hw, hb)), ow, ob)
            # Three passes, as the .NET side (one over the concatenation fills a zero tensor of its whole size per slice in backward).
            a, n = adapt(anchors), adapt(neighbours.reshape(k, r * top_k, dim)).reshape(k, r, top_k, dim)
            rows = adapt(torch.cat([q, d], 1))
            aq, ad = rows[:, :b], rows[:, b:]
            target = (F.normalize(neighbours, dim=3) * F.normalize(anchors, dim=2).unsqueeze(2)).sum(3)
            top = sum(((prefix(n, p) * prefix(a, p).unsqueeze(2)).sum(3) - target).abs().mean((1, 2)) for p in PREFIXES) / len(PREFIXES)
            unit = F.normalize(anchors, dim=2)
            pair_target = unit @ unit.transpose(1, 2)
            pair = sum(((prefix(a, p) @ prefix(a, p).transpose(1, 2) - pair_target).abs() * upper).sum((1, 2)) / (r * (r - 1) / 2)
                       for p in PREFIXES) / len(PREFIXES)
            reconstruction = (a - anchors).abs().mean((1, 2))
            ranking = 0
            for p in PREFIXES:
                s = prefix(aq, p) @ prefix(ad, p).transpose(1, 2) / TEMPERATURE
                ranking = ranking + F.cross_entropy(s.masked_fill(masked, float("-inf")).reshape(k * b, m), positive.reshape(-1),
                                                    reduction="none").view(k, b).mean(1)
            return top + pair * 1.0 + reconstruction * 1.0 + ranking * (1.0 / len(PREFIXES))
        optimizer = torch.optim.Adam(params, lr=1e-3, weight_decay=0.0)
    elif case == "adaptor-mlp":
        # Diagnostic: the residual MLP alone (no input map), the products both sides hand to a BLAS.
        adaptor = ResidualAdaptor(t, "adaptor.")
        params = adaptor.parameters
        loss = lambda: adaptor.forward_centred(t["rows"]).square().mean()
        optimizer = torch.optim.Adam(params, lr=1e-3, weight_decay=0.0)
    else:
        raise SystemExit(f"unknown case {case}")
    for p in params:
        p.requires_grad_(True)

    def step():
        """One step; the loss before the update, one value per member ([x] for a single model)."""
        optimizer.zero_grad()
        value = loss()
        value.sum().backward()
        optimizer.step()
        return value.detach().reshape(-1).tolist()
    return step


def check(folder, case, tolerance):
    expected = np.load(f"{folder}/dotnet_losses.npy").reshape(-1)
    step = build(load(folder), case)
    actual = []
    while len(actual) < len(expected):
        actual.extend(step())
    actual = np.array(actual)
    worst = float(np.max(np.abs(actual - expected)))
    print(f"{case}: pytorch losses {np.array2string(actual, precision=6)} dotnet {np.array2string(expected, precision=6)} max |diff| {worst:.2e}")
    return 0 if worst <= tolerance else 1


def serve(threads):
    torch.set_num_threads(threads)
    steps = {}
    for line in sys.stdin:
        folder, case, count = line.split()
        if (folder, case) not in steps:
            steps[(folder, case)] = build(load(folder), case)
            steps[(folder, case)]()  # warm-up
        step = steps[(folder, case)]
        start = time.perf_counter()
        for _ in range(int(count)):
            step()
        print(f"{time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    torch.manual_seed(0)
    if sys.argv[1] == "check":
        torch.set_num_threads(1)
        sys.exit(check(sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4))
    elif sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
