"""Builds the FP8 conformance fixtures: block-scaled FP8 copies of the shared tiny fixtures in the published form
(zai-org GLM-4.5-FP8 / DeepSeek-V3: config.json quantization_config {quant_method fp8, fmt e4m3, activation_scheme
dynamic, weight_block_size [R, C]}; each linear weight X stored as F8_E4M3 with an F32 X_scale_inv of shape
[ceil(rows/R), ceil(cols/C)]), quantized with torch's own float8_e4m3fn conversion, plus transformers' fp32 outputs
for the DEQUANTIZED weights (q.float() * scale), in the shared fixtures' reference format.

  glm4-tiny-fp8          Glm4ForCausalLM from glm4-tiny, 128x128 blocks (every tiny weight is one or a few
                         partial blocks: gate_up 320x64 is 3 row blocks, down 64x160 is 2 column blocks)
  glm4-tiny-fp8-b48x40   the same with 48x40 blocks, which divide none of the shapes' rows (64, 32, 320) and not
                         64 columns either: clipped blocks at every edge
  glm4moe-tiny-fp8       Glm4MoeForCausalLM from glm4moe-tiny, 128x128 blocks: routed and shared experts in FP8

Quantization (the rule the Java codec io.autoglm.safetensors.Fp8 and the CUDA backend follow): per block,
scale = amax / 448 in fp32 (1 when that is 0), q = (w / scale).to(float8_e4m3fn) with one IEEE fp32 division per
element (scales expanded to a full tensor, so no reciprocal is taken), round to nearest even. Quantized are exactly
the decoder layers' linear weights: self_attn.{q,k,v,o}_proj, mlp.{gate_up,gate,up,down}_proj, and those of
mlp.experts.N and mlp.shared_experts; not embeddings, norms, biases, the router mlp.gate or lm_head. Other
tensors are copied as stored (fp32). The prompts are the source fixture's (p{i}.input_ids); logits, 24 greedy steps
(recomputed from scratch each step) and their logits are computed in fp32 on the CPU by transformers from a
checkpoint holding the dequantized weights. Nothing is random: the output depends only on the source fixture.

Usage (where torch 2.11 and transformers 5.17 are installed, e.g. the GPU machine; runs on its CPU):
  python3 make-fp8-fixture.py SRC_MODELS_DIR OUT_DIR
SRC_MODELS_DIR holds glm4-tiny/ and glm4moe-tiny/ (../shared/fixtures/models); writes OUT_DIR/<name>/ for each
fixture above (config.json, generation_config.json, model.safetensors, reference.safetensors, reference.json,
README.md) and prints each file written with its size and sha256.
"""
import hashlib, json, math, os, re, shutil, sys, tempfile
import torch
import transformers
from safetensors.torch import load_file, save_file

SRC, OUT = sys.argv[1], sys.argv[2]
torch.set_num_threads(4)
GREEDY = 24
VARIANTS = [("glm4-tiny-fp8", "glm4-tiny", (128, 128)),
            ("glm4-tiny-fp8-b48x40", "glm4-tiny", (48, 40)),
            ("glm4moe-tiny-fp8", "glm4moe-tiny", (128, 128))]
LINEAR = re.compile(r"model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(shared_experts\.|experts\.\d+\.)?"
                    r"(gate_up|gate|up|down)_proj)\.weight")
F448 = torch.tensor(448.0, dtype=torch.float32)


def source_tensors(d):
    """All tensors of a fixture, in the order the index (or the single file) lists them."""
    index = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) \
        else ["model.safetensors"]
    out = {}
    for f in files:
        for k, v in load_file(os.path.join(d, f)).items():
            assert k not in out, k
            out[k] = v
    return dict(sorted(out.items()))


def quantize(w, br, bc):
    """(codes float8_e4m3fn [R, C], scale_inv fp32 [ceil(R/br), ceil(C/bc)], dequantized fp32 [R, C])."""
    assert w.dtype == torch.float32 and w.dim() == 2, (w.dtype, w.shape)
    assert torch.isfinite(w).all()
    rows, cols = w.shape
    sr, sc = math.ceil(rows / br), math.ceil(cols / bc)
    scale = torch.empty(sr, sc, dtype=torch.float32)
    for i in range(sr):
        for j in range(sc):
            s = w[i * br:(i + 1) * br, j * bc:(j + 1) * bc].abs().amax() / F448
            scale[i, j] = s if s.item() != 0.0 else torch.tensor(1.0, dtype=torch.float32)
    full = scale.repeat_interleave(br, 0)[:rows].repeat_interleave(bc, 1)[:, :cols].contiguous()
    x = w / full
    assert x.abs().max().item() <= 448.0 * (1 + 2 ** -20), x.abs().max().item()
    q = x.to(torch.float8_e4m3fn)
    deq = q.to(torch.float32) * full
    assert torch.isfinite(deq).all(), "a NaN code came out of the conversion"
    return q.contiguous(), scale, deq.contiguous()


def references(model_dir, src_ref, arch):
    model = getattr(transformers, arch).from_pretrained(model_dir, dtype=torch.float32).eval()
    src = load_file(src_ref)
    tensors, prompts = {}, []
    with torch.no_grad():
        for i in range(len([k for k in src if k.endswith(".input_ids")])):
            ids = src[f"p{i}.input_ids"].to(torch.int64)
            logits = model(input_ids=ids[None]).logits[0].float()
            seq, greedy, glog = ids.clone(), [], []
            for _ in range(GREEDY):
                last = model(input_ids=seq[None]).logits[0, -1].float()
                nxt = int(torch.argmax(last))
                greedy.append(nxt)
                glog.append(last)
                seq = torch.cat([seq, torch.tensor([nxt])])
            tensors[f"p{i}.input_ids"] = ids.contiguous()
            tensors[f"p{i}.logits"] = logits.contiguous()
            tensors[f"p{i}.greedy"] = torch.tensor(greedy, dtype=torch.int64)
            tensors[f"p{i}.greedy_logits"] = torch.stack(glog).contiguous()
            prompts.append({"input_ids": ids.tolist(), "greedy": greedy})
    return tensors, prompts


def build(name, source, block):
    src_dir = os.path.join(SRC, source)
    cfg = json.load(open(os.path.join(src_dir, "config.json")))
    layers = cfg["num_hidden_layers"]
    br, bc = block
    stored, dequantized, quantized = {}, {}, []
    for k, v in source_tensors(src_dir).items():
        m = LINEAR.fullmatch(k)
        if m and int(m.group(1)) < layers:
            q, s, deq = quantize(v.float(), br, bc)
            stored[k], stored[k + "_scale_inv"], dequantized[k] = q, s, deq
            quantized.append(k)
        else:
            stored[k] = dequantized[k] = v.contiguous()
    out = os.path.join(OUT, name)
    os.makedirs(out, exist_ok=True)
    save_file(stored, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    qcfg = dict(cfg)
    qcfg["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                   "weight_block_size": [br, bc]}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(qcfg, f, indent=2, sort_keys=True)
    shutil.copy(os.path.join(src_dir, "generation_config.json"), os.path.join(out, "generation_config.json"))
    with tempfile.TemporaryDirectory() as tmp:  # the dequantized twin that transformers computes the references on
        save_file(dequantized, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(cfg, f)
        shutil.copy(os.path.join(src_dir, "generation_config.json"), os.path.join(tmp, "generation_config.json"))
        tensors, prompts = references(tmp, os.path.join(src_dir, "reference.safetensors"), cfg["architectures"][0])
    save_file(tensors, os.path.join(out, "reference.safetensors"))
    meta = {"transformers": transformers.__version__, "torch": torch.__version__,
            "architecture": cfg["architectures"][0], "stored_dtype": "float8_e4m3fn linears, float32 rest",
            "source": source, "weight_block_size": [br, bc], "quantized": quantized, "prompts": prompts}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(meta, f)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"# {name}\n\n`{source}` (../shared/fixtures/models) with its {len(quantized)} decoder linear weights "
                f"stored as F8_E4M3 in {br}x{bc} blocks with F32 `_scale_inv` (the published GLM-4.5-FP8 form), "
                f"quantized by torch's `float8_e4m3fn` conversion (scale = amax / 448). References are transformers' "
                f"fp32 outputs on the dequantized weights (`q.float() * scale`), in the shared fixtures' format "
                f"(prompts of lengths {[len(p['input_ids']) for p in prompts]}, {GREEDY} greedy steps each).\n\n"
                f"Made by `tools/make-fp8-fixture.py` with transformers {transformers.__version__} and torch "
                f"{torch.__version__} (CPU).\n")
    for fn in sorted(os.listdir(out)):
        p = os.path.join(out, fn)
        print(f"wrote {name}/{fn} {os.path.getsize(p)} bytes sha256 {hashlib.sha256(open(p, 'rb').read()).hexdigest()}")
    print(f"{name}: {len(quantized)} FP8 tensors in {br}x{bc} blocks, {len(prompts)} prompts")


for name, source, block in VARIANTS:
    build(name, source, block)
