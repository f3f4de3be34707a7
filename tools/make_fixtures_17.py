"""Builds the issue-17 test fixtures with transformers itself (run where torch and transformers >= 5 are installed,
for instance on the GPU machine; everything runs on the CPU there, since the references are torch's CPU results):

  glm4-gqa24-bf16       Glm4ForCausalLM, 48 query heads over 2 KV heads (24 per KV head), head_dim 16, stored bf16
  glm4moe-gqa12         Glm4MoeForCausalLM, 24 query heads over 2 KV heads (12 per KV head), head_dim 32 with
                        partial rotary 0.5 and q/k norms (GLM-4.5's layout, scaled down), fp32
  glm4moe-grouped-ties  Glm4MoeForCausalLM, 16 experts in 4 groups, topk_group 2, top-4, fp32. Two experts of
                        every group have a zero router row and one common correction bias, so they tie exactly (and
                        groups whose two best are tied ones tie too): torch.topk's own order decides which win. The
                        other biases leave most biased scores negative, so the mask of dropped groups matters too
                        (transformers 5.17 masks with -inf; 4.x used 0.0)
  topk golden           torch.topk(row, k, sorted=False) on CPU for many small rows full of exact ties
                        (topk/torch_topk_golden.json)

Each model folder has the shared fixtures' format (../shared/fixtures/README.md): the checkpoint saved by
save_pretrained, reference.safetensors (p{i}.input_ids, p{i}.logits, p{i}.greedy, p{i}.greedy_logits, fp32 math on
the weights exactly as stored) and reference.json. Each MoE folder also has routing.json: transformers' router
logits, chosen experts (in torch.topk's order) and weights for every teacher-forced token of every MoE layer.

Usage: python3 make_fixtures_17.py OUTDIR   (writes OUTDIR/fixtures/<name>/ and OUTDIR/topk/)
"""
import json, math, os, random, sys
import torch
import transformers
from safetensors.torch import save_file

OUT = sys.argv[1]
torch.set_num_threads(4)

PROMPT_LENS = [1, 7, 23, 61]
GREEDY = 24


def common(**over):
    c = dict(vocab_size=384, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
             num_attention_heads=4, num_key_value_heads=2, head_dim=16,
             partial_rotary_factor=0.5, rope_theta=10000.0, rms_norm_eps=1.5625e-07,
             max_position_embeddings=512, attention_bias=True, initializer_range=0.08,
             tie_word_embeddings=False, pad_token_id=0, eos_token_id=[2, 3], bos_token_id=None)
    c.update(over)
    return c


def moe(**over):
    c = common(intermediate_size=96, moe_intermediate_size=32, n_routed_experts=8, n_shared_experts=1,
               num_experts_per_tok=2, first_k_dense_replace=1, n_group=1, topk_group=1,
               routed_scaling_factor=1.5, norm_topk_prob=True, use_qk_norm=False)
    c.update(over)
    return c


SPECS = {
    "glm4-gqa24-bf16": ("Glm4Config", "Glm4ForCausalLM",
                        common(num_attention_heads=48, num_key_value_heads=2, head_dim=16), "bfloat16"),
    "glm4moe-gqa12": ("Glm4MoeConfig", "Glm4MoeForCausalLM",
                      moe(hidden_size=48, num_attention_heads=24, num_key_value_heads=2, head_dim=32,
                          use_qk_norm=True, rms_norm_eps=1e-5), "float32"),
    "glm4moe-grouped-ties": ("Glm4MoeConfig", "Glm4MoeForCausalLM",
                             moe(intermediate_size=96, moe_intermediate_size=24, n_routed_experts=16,
                                 num_experts_per_tok=4, n_group=4, topk_group=2, routed_scaling_factor=2.5,
                                 rms_norm_eps=1e-5), "float32"),
}


def perturb(model):
    """transformers initialises norm weights to 1 and biases to 0: perturb them so a missing one cannot pass."""
    with torch.no_grad():
        for n, p in list(model.named_parameters()) + list(model.named_buffers()):
            if not p.is_floating_point():
                continue
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif n.endswith(".bias") or "e_score_correction_bias" in n:
                p.copy_(0.1 * torch.randn_like(p))


def moe_layers(model):
    return [(i, l.mlp) for i, l in enumerate(model.model.layers) if hasattr(l.mlp, "gate")]


class RoutingRecorder:
    """Hooks every MoE layer's router (Glm4MoeTopkRouter: returns logits, weights, indices); records each call."""

    def __init__(self, model):
        self.calls = {}
        self.handles = []
        for i, mlp in moe_layers(model):
            self.calls[i] = []

            def hook(mod, args, out, i=i):
                logits, weights, indices = out
                self.calls[i].append((logits.detach().float().clone(), indices.clone(), weights.detach().clone()))
            self.handles.append(mlp.gate.register_forward_hook(hook))

    def clear(self):
        for v in self.calls.values():
            v.clear()

    def remove(self):
        for h in self.handles:
            h.remove()


def choice_scores(logits, bias, c):
    """transformers 5.17's scores_for_choice: sigmoid + bias, experts of dropped groups masked to -inf."""
    biased = logits.sigmoid() + bias
    group = c.n_routed_experts // c.n_group
    gs = biased.view(-1, c.n_group, group).topk(2, dim=-1)[0].sum(-1)
    gidx = torch.topk(gs, k=c.topk_group, dim=-1, sorted=False)[1]
    kept = torch.zeros_like(gs).scatter_(1, gidx, 1).bool()
    kept = kept.unsqueeze(-1).expand(-1, c.n_group, group).reshape(-1, c.n_routed_experts)
    return biased, gs, gidx, kept


def split_ties(values, chosen):
    """Rows whose chosen set holds some but not all of the entries equal to the smallest chosen value."""
    kth = values.gather(1, chosen).min(dim=1, keepdim=True)[0]
    return (values == kth).sum(1) > (values.gather(1, chosen) == kth).sum(1)


def tie_stats(rec, model):
    """Per routed token: a negative biased score was chosen (0.0 masking would have dropped it), the expert tie at
    the k-th value was split (torch.topk's order decided the set), the group tie at the boundary was split."""
    c = model.config
    neg = split = gsplit = total = 0
    for i, mlp in moe_layers(model):
        bias = mlp.gate.e_score_correction_bias.float()
        for logits, idx, _ in rec.calls[i]:
            biased, gs, gidx, kept = choice_scores(logits, bias, c)
            neg += int((biased.gather(1, idx) < 0).any(1).sum())
            split += int(split_ties(biased.masked_fill(~kept, float("-inf")), idx).sum())
            gsplit += int(split_ties(gs, gidx).sum())
            total += idx.shape[0]
    t = max(total, 1)
    return {"negative_chosen": neg / t, "expert_tie_split": split / t, "group_tie_split": gsplit / t,
            "tokens": total}


def make_ties(model, cfg):
    """Gives two experts of every group a zero router row (logit exactly 0, score exactly 0.5) and one common bias,
    so they tie exactly with each other; the other experts' biases put their scores around the same value, half of
    them negative. Picks the shift that makes all three kinds of tie-dependent decisions frequent."""
    g = torch.Generator().manual_seed(7)
    group = cfg.n_routed_experts // cfg.n_group
    tied = [gi * group + j for gi in range(cfg.n_group)
            for j in sorted(torch.randperm(group, generator=g)[:2].tolist())]
    noise = {i: 0.05 * torch.randn(cfg.n_routed_experts, generator=g) for i, _ in moe_layers(model)}
    with torch.no_grad():
        for _, mlp in moe_layers(model):
            mlp.gate.weight[tied] = 0.0
    rec = RoutingRecorder(model)
    ids = torch.randint(4, cfg.vocab_size, (1, 96), generator=g)
    best = None
    for shift in [0.1, 0.05, 0.02, 0.0, -0.02, -0.04, -0.06, -0.08, -0.1, -0.15]:
        with torch.no_grad():
            for i, mlp in moe_layers(model):
                b = -0.5 + noise[i] + shift
                b[tied] = shift - 0.5
                mlp.gate.e_score_correction_bias.copy_(b)
            rec.clear()
            model(input_ids=ids)
        st = tie_stats(rec, model)
        score = min(st["negative_chosen"], st["expert_tie_split"], st["group_tie_split"])
        print(f"  bias shift {shift}: {st}")
        if best is None or score > best[1]:
            best = (shift, score, st)
    rec.remove()
    with torch.no_grad():
        for i, mlp in moe_layers(model):
            b = -0.5 + noise[i] + best[0]
            b[tied] = best[0] - 0.5
            mlp.gate.e_score_correction_bias.copy_(b)
    return {"tied_experts": tied, "bias_shift": best[0], "tuning_stats": best[2]}


def experts_impl(model):
    return getattr(model.config, "_experts_implementation", None)


def references(model, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    tensors, prompts = {}, []
    with torch.no_grad():
        for i, T in enumerate(PROMPT_LENS):
            ids = torch.randint(4, cfg.vocab_size, (T,), generator=g)
            logits = model(input_ids=ids[None]).logits[0].float()
            seq, greedy, glog = ids.clone(), [], []
            for _ in range(GREEDY):
                last = model(input_ids=seq[None]).logits[0, -1].float()
                nxt = int(torch.argmax(last))
                greedy.append(nxt); glog.append(last)
                seq = torch.cat([seq, torch.tensor([nxt])])
            tensors[f"p{i}.input_ids"] = ids.to(torch.int64).contiguous()
            tensors[f"p{i}.logits"] = logits.contiguous()
            tensors[f"p{i}.greedy"] = torch.tensor(greedy, dtype=torch.int64)
            tensors[f"p{i}.greedy_logits"] = torch.stack(glog).contiguous()
            prompts.append({"input_ids": ids.tolist(), "greedy": greedy})
    return tensors, prompts


def routing_trace(model, prompts):
    """Transformers' routing of each teacher-forced sequence (prompt + greedy), one full forward per prompt."""
    rec = RoutingRecorder(model)
    out = {"layers": {}}
    for i, mlp in moe_layers(model):
        out["layers"][str(i)] = {"correction_bias": [float(x) for x in mlp.gate.e_score_correction_bias.float()],
                                 "prompts": []}
    with torch.no_grad():
        for p in prompts:
            rec.clear()
            model(input_ids=torch.tensor([p["input_ids"] + p["greedy"]]))
            for i, calls in rec.calls.items():
                (logits, idx, w), = calls
                out["layers"][str(i)]["prompts"].append({
                    "router_logits": [[float(x) for x in row] for row in logits],
                    "indices": idx.tolist(), "weights": [[float(x) for x in row] for row in w.float()]})
        rec.clear()
        for p in prompts:
            model(input_ids=torch.tensor([p["input_ids"] + p["greedy"]]))
    stats = tie_stats(rec, model)
    rec.remove()
    return out, stats


def build(name, cfg_cls, model_cls, kw, dtype):
    d = os.path.join(OUT, "fixtures", name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(sum(name.encode()) * 7919 % 100003)
    cfg = getattr(transformers, cfg_cls)(**kw)
    model = getattr(transformers, model_cls)(cfg).eval().float()
    perturb(model)
    meta = {"transformers": transformers.__version__, "torch": torch.__version__, "architecture": model_cls,
            "stored_dtype": dtype, "made_by": "tools/make_fixtures_17.py"}
    if name == "glm4moe-grouped-ties":
        meta.update(make_ties(model, cfg))
    save_model = model if dtype == "float32" else model.to(getattr(torch, dtype))
    save_model.save_pretrained(d, safe_serialization=True)
    ref = getattr(transformers, model_cls).from_pretrained(d, dtype=torch.float32).eval()
    meta["experts_implementation"] = experts_impl(ref)
    tensors, prompts = references(ref, cfg, 1234)
    meta["prompts"] = prompts
    save_file(tensors, os.path.join(d, "reference.safetensors"))
    if moe_layers(ref):
        trace, meta["routing_stats"] = routing_trace(ref, prompts)
        trace["experts_implementation"] = meta["experts_implementation"]
        with open(os.path.join(d, "routing.json"), "w") as f:
            json.dump(trace, f)
        meta["eager_vs_default_max_abs"] = eager_difference(model_cls, d, tensors)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(meta, f)
    sizes = {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))}
    print(name, "ok", sizes, {k: v for k, v in meta.items() if k != "prompts"})


def eager_difference(model_cls, d, tensors):
    """Max |logit| difference between the default experts implementation and the eager loop (summation order)."""
    try:
        eager = getattr(transformers, model_cls).from_pretrained(d, dtype=torch.float32,
                                                                 experts_implementation="eager").eval()
    except Exception as e:  # older transformers: no experts_implementation switch
        return f"n/a ({e})"
    if experts_impl(eager) != "eager":
        return f"n/a (asked for eager, got {experts_impl(eager)})"
    worst = 0.0
    with torch.no_grad():
        for i in range(len(PROMPT_LENS)):
            got = eager(input_ids=tensors[f"p{i}.input_ids"][None]).logits[0].float()
            worst = max(worst, float((got - tensors[f"p{i}.logits"]).abs().max()))
    return worst


# ---------------------------------------------------------------------------------------------------------------
# torch.topk golden, plus a Python port of libstdc++'s nth_element / partial_sort as torch's CPU kernel calls them
# (aten/src/ATen/native/TopKImpl.h, topk_impl_loop): the port is checked against torch here, on every case.

def gt(x, y):
    """topk_impl_loop's comparator for largest=True: NaN first, then '>' on the value (indices never compared)."""
    return (math.isnan(x[0]) and not math.isnan(y[0])) or x[0] > y[0]


def lg(n):
    return n.bit_length() - 1


def adjust_heap(q, first, hole, length, value):
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if gt(q[first + child], q[first + child - 1]):
            child -= 1
        q[first + hole] = q[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        q[first + hole] = q[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and gt(q[first + parent], value):
        q[first + hole] = q[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    q[first + hole] = value


def make_heap(q, first, last):
    length = last - first
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        adjust_heap(q, first, parent, length, q[first + parent])
        if parent == 0:
            return
        parent -= 1


def pop_heap(q, first, last, result):
    value = q[result]
    q[result] = q[first]
    adjust_heap(q, first, 0, last - first, value)


def heap_select(q, first, middle, last):
    make_heap(q, first, middle)
    for i in range(middle, last):
        if gt(q[i], q[first]):
            pop_heap(q, first, middle, i)


def insertion_sort(q, first, last):
    if first == last:
        return
    for i in range(first + 1, last):
        if gt(q[i], q[first]):
            val = q[i]
            q[first + 1:i + 1] = q[first:i]
            q[first] = val
        else:
            val = q[i]
            j = i
            while gt(val, q[j - 1]):
                q[j] = q[j - 1]
                j -= 1
            q[j] = val


def median_to_first(q, result, a, b, c):
    if gt(q[a], q[b]):
        if gt(q[b], q[c]):
            q[result], q[b] = q[b], q[result]
        elif gt(q[a], q[c]):
            q[result], q[c] = q[c], q[result]
        else:
            q[result], q[a] = q[a], q[result]
    elif gt(q[a], q[c]):
        q[result], q[a] = q[a], q[result]
    elif gt(q[b], q[c]):
        q[result], q[c] = q[c], q[result]
    else:
        q[result], q[b] = q[b], q[result]


def unguarded_partition(q, first, last, pivot):
    while True:
        while gt(q[first], q[pivot]):
            first += 1
        last -= 1
        while gt(q[pivot], q[last]):
            last -= 1
        if not first < last:
            return first
        q[first], q[last] = q[last], q[first]
        first += 1


def nth_element(q, nth):
    first, last = 0, len(q)
    if first == last or nth == last:
        return
    depth = lg(last - first) * 2
    while last - first > 3:
        if depth == 0:
            heap_select(q, first, nth + 1, last)
            q[first], q[nth] = q[nth], q[first]
            return
        depth -= 1
        mid = first + (last - first) // 2
        median_to_first(q, first, first + 1, mid, last - 1)
        cut = unguarded_partition(q, first + 1, last, first)
        if cut <= nth:
            first = cut
        else:
            last = cut
    insertion_sort(q, first, last)


def port_topk(values, k):
    q = [(float(v), j) for j, v in enumerate(values)]
    if k * 64 <= len(q):
        heap_select(q, 0, k, len(q))
        last = k
        while last > 1:  # sort_heap
            last -= 1
            pop_heap(q, 0, last, last)
    else:
        nth_element(q, k - 1)
    return [j for _, j in q[:k]]


def tie_row(rng, n):
    kind = rng.randrange(7)
    if kind == 0:   # the router's case: masked zeros among a few negative and positive scores
        row = [0.0] * n
        for j in rng.sample(range(n), rng.randint(1, max(1, n // 2))):
            row[j] = rng.choice([-1, 1]) * rng.choice([0.0016, 0.01, 0.19, 0.2, 0.7, 0.73, rng.random()])
    elif kind == 1:  # few distinct values
        vals = [rng.choice([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0]) for _ in range(rng.randint(1, 3))]
        row = [rng.choice(vals) for _ in range(n)]
    elif kind == 2:  # 0.0 and -0.0 (equal under '>') with a few others
        row = [rng.choice([0.0, -0.0, 0.0, -0.0, 0.5, -0.5]) for _ in range(n)]
    elif kind == 3:  # all equal
        row = [rng.choice([0.0, -0.0, 1.5, -2.0])] * n
    elif kind == 4:  # distinct random (no ties)
        row = [rng.uniform(-1, 1) for _ in range(n)]
    elif kind == 5:  # random with duplicated entries
        base = [rng.uniform(-1, 1) for _ in range(max(1, n // 3))]
        row = [rng.choice(base) for _ in range(n)]
    else:  # sorted / reversed runs with ties (pivot choices at the edges)
        row = sorted(rng.choice([0.0, 0.1, 0.2, 0.3]) for _ in range(n))
        if rng.random() < 0.5:
            row.reverse()
    return [float(torch.tensor(v, dtype=torch.float32)) for v in row]


def topk_golden():
    rng = random.Random(17)
    cases, agree = [], 0
    shapes = [(n, k) for n in range(4, 65) for k in range(1, min(8, n) + 1)]
    shapes += [(n, k) for n in (64, 96, 128, 160, 256, 384, 512) for k in (1, 2, 4, 6, 8)]
    for n, k in shapes:
        rows = [tie_row(rng, n) for _ in range(3)]
        # one batched call, as transformers makes it on (tokens, experts) and (tokens, groups)
        idx = torch.topk(torch.tensor(rows, dtype=torch.float32), k=k, dim=-1, sorted=False)[1].tolist()
        for row, got in zip(rows, idx):
            ok = port_topk(row, k) == got
            agree += ok
            cases.append({"values": row, "k": k, "indices": got, "port_agrees": ok})
    # the two examples
    for row in ([0, 0, 0, -0.0016, 0.19, 0.73], [-0.01, 0.2, 0.7, 0, 0, 0]):
        row = [float(torch.tensor(v, dtype=torch.float32)) for v in row]
        got = torch.topk(torch.tensor([row]), k=3, dim=-1, sorted=False)[1][0].tolist()
        ok = port_topk(row, 3) == got
        agree += ok
        cases.append({"values": row, "k": 3, "indices": got, "port_agrees": ok})
    d = os.path.join(OUT, "topk")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "torch_topk_golden.json"), "w") as f:
        json.dump({"torch": torch.__version__, "made_by": "tools/make_fixtures_17.py",
                   "call": "torch.topk(rows, k, dim=-1, sorted=False)[1] on CPU, float32, rows batched by shape",
                   "cases": cases}, f)
    print("topk golden:", len(cases), "cases, python port agrees on", agree)


topk_golden()
for name, spec in SPECS.items():
    try:
        build(name, *spec)
    except Exception as e:
        import traceback; traceback.print_exc()
        print(name, "FAILED", e)
