"""Builds the glm4moe-variant-tiny test fixture: a Glm4MoeForCausalLM with the options the shared
glm4moe-tiny fixture leaves off (q/k norms, group-limited routing with n_group > 1, norm_topk_prob off,
several shared experts), plus transformers' own fp32 outputs for it, in the shared fixtures' format.

Usage (where torch and transformers >= 5 are installed): python3 make_moe_variant_fixture.py OUTDIR
"""
import json, os, sys
import torch
import transformers
from safetensors.torch import save_file

OUT = os.path.join(sys.argv[1], "glm4moe-variant-tiny")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(20251125)
cfg = transformers.Glm4MoeConfig(
    vocab_size=384, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
    num_attention_heads=4, num_key_value_heads=2, head_dim=16, partial_rotary_factor=0.5,
    rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=512, attention_bias=True,
    initializer_range=0.08, tie_word_embeddings=False, pad_token_id=0, eos_token_id=[2, 3], bos_token_id=None,
    moe_intermediate_size=24, n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=3,
    first_k_dense_replace=1, n_group=4, topk_group=2, routed_scaling_factor=2.5, norm_topk_prob=False,
    use_qk_norm=True)
model = transformers.Glm4MoeForCausalLM(cfg).eval().float()
with torch.no_grad():
    for n, p in list(model.named_parameters()) + list(model.named_buffers()):
        if not p.is_floating_point():
            continue
        if n.endswith("norm.weight"):
            p.copy_(1.0 + 0.2 * torch.randn_like(p))
        elif n.endswith(".bias") or "e_score_correction_bias" in n:
            p.copy_(0.1 * torch.randn_like(p))
model.save_pretrained(OUT, safe_serialization=True)
ref = transformers.Glm4MoeForCausalLM.from_pretrained(OUT, dtype=torch.float32).eval()
g = torch.Generator().manual_seed(99)
tensors, meta = {}, {"transformers": transformers.__version__, "torch": torch.__version__, "prompts": []}
with torch.no_grad():
    for i, T in enumerate([1, 7, 23]):
        ids = torch.randint(4, cfg.vocab_size, (T,), generator=g)
        logits = ref(input_ids=ids[None]).logits[0].float()
        seq, greedy, glog = ids.clone(), [], []
        for _ in range(8):
            last = ref(input_ids=seq[None]).logits[0, -1].float()
            nxt = int(torch.argmax(last))
            greedy.append(nxt); glog.append(last)
            seq = torch.cat([seq, torch.tensor([nxt])])
        tensors[f"p{i}.input_ids"] = ids.to(torch.int64).contiguous()
        tensors[f"p{i}.logits"] = logits.contiguous()
        tensors[f"p{i}.greedy"] = torch.tensor(greedy, dtype=torch.int64)
        tensors[f"p{i}.greedy_logits"] = torch.stack(glog).contiguous()
        meta["prompts"].append({"input_ids": ids.tolist(), "greedy": greedy})
save_file(tensors, os.path.join(OUT, "reference.safetensors"))
with open(os.path.join(OUT, "reference.json"), "w") as f:
    json.dump(meta, f)
print("ok", sorted(os.listdir(OUT)))
