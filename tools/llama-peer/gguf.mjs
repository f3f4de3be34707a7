// Writes a GGUF (v3) of one of our GLM4 (Glm4ForCausalLM) safetensors checkpoints for llama.cpp's `glm4`
// architecture, so that the llama.cpp peer runs the very weights AutoGLM runs (docs/cpu.md).
//
//   node gguf.mjs CHECKPOINT_DIR TOKENIZER_JSON OUT.gguf bf16|q8_0|f32
//
// Matrices (2-D tensors) are written as BF16, Q8_0 (ggml's reference quantizer: d = amax/127 per 32 values,
// q = roundf(x/d), d stored as fp16) or F32; norms and biases as F32. q/k/v are fused into attn_qkv as llama.cpp's
// own converter may store them (one matmul). The vocabulary comes from a Hugging Face tokenizer.json (GLM-4's
// byte-level BPE, pre-tokenizer `glm4`), padded with [PAD{i}] tokens to the embedding's rows as
// convert_hf_to_gguf.py pads it. Nothing here is shipped with the library: it is the benchmark's peer harness.
import fs from "node:fs";
import path from "node:path";

const [dir, tokenizerJson, out, kind] = process.argv.slice(2);
if (!dir || !tokenizerJson || !out || !["bf16", "q8_0", "f32"].includes(kind)) {
  console.error("usage: node gguf.mjs CHECKPOINT_DIR TOKENIZER_JSON OUT.gguf bf16|q8_0|f32");
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
if (config.model_type !== "glm4") {
  throw new Error(`${dir}: model_type ${config.model_type}, expected glm4 (Glm4ForCausalLM)`);
}

// ---- safetensors ------------------------------------------------------------------------------------------------
function shards() {
  const index = path.join(dir, "model.safetensors.index.json");
  const files = fs.existsSync(index)
    ? [...new Set(Object.values(JSON.parse(fs.readFileSync(index, "utf8")).weight_map))]
    : ["model.safetensors"];
  const tensors = new Map();
  for (const f of files) {
    const fd = fs.openSync(path.join(dir, f), "r");
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const hdr = Buffer.alloc(n);
    fs.readSync(fd, hdr, 0, n, 8);
    for (const [name, t] of Object.entries(JSON.parse(hdr.toString("utf8")))) {
      if (name !== "__metadata__") tensors.set(name, { fd, dtype: t.dtype, shape: t.shape, start: 8 + n + t.data_offsets[0] });
    }
  }
  return tensors;
}
const st = shards();

/** Rows [r0, r0 + n) of a tensor as fp32. */
function readRows(name, r0, n) {
  const t = st.get(name);
  if (!t) throw new Error(`tensor ${name} is not in ${dir}`);
  const cols = t.shape.length === 2 ? t.shape[1] : t.shape[0];
  const size = { F32: 4, BF16: 2, F16: 2 }[t.dtype];
  if (!size) throw new Error(`tensor ${name} has dtype ${t.dtype}, expected F32, BF16 or F16`);
  const buf = Buffer.alloc(n * cols * size);
  fs.readSync(t.fd, buf, 0, buf.length, t.start + r0 * cols * size);
  const outF = new Float32Array(n * cols);
  if (t.dtype === "F32") {
    outF.set(new Float32Array(buf.buffer, buf.byteOffset, n * cols));
  } else if (t.dtype === "BF16") {
    const u = new Uint32Array(outF.buffer);
    for (let i = 0; i < n * cols; i++) u[i] = buf.readUInt16LE(2 * i) << 16;
  } else {
    for (let i = 0; i < n * cols; i++) outF[i] = f16ToF32(buf.readUInt16LE(2 * i));
  }
  return outF;
}

// ---- number formats ---------------------------------------------------------------------------------------------
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function f32ToBf16(x) {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
function f32ToF16(x) { // round to nearest even, as F16C's _cvtss_sh (ggml's GGML_FP32_TO_FP16 on x86)
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 127 + 15;
  let man = u & 0x7fffff;
  if (((u >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e;
    let half = man >>> shift;
    const rem = man & ((1 << shift) - 1), mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return half;
}
function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
const roundf = (v) => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

// ---- tensors to write -------------------------------------------------------------------------------------------
const GGML = { F32: 0, Q8_0: 8, BF16: 30 };
const L = config.num_hidden_layers, H = config.hidden_size;
const plan = []; // { name, parts: [hf names], rows, cols, matrix }
function add(name, parts) {
  const shapes = parts.map((p) => {
    const t = st.get(p);
    if (!t) throw new Error(`tensor ${p} is not in ${dir}`);
    return t.shape;
  });
  const matrix = shapes[0].length === 2;
  const rows = matrix ? shapes.reduce((a, s) => a + s[0], 0) : 1;
  const cols = matrix ? shapes[0][1] : shapes.reduce((a, s) => a + s[0], 0);
  plan.push({ name, parts, rows, cols, matrix });
}
add("token_embd.weight", ["model.embed_tokens.weight"]);
for (let i = 0; i < L; i++) {
  const p = `model.layers.${i}.`;
  const b = `blk.${i}.`;
  add(b + "attn_norm.weight", [p + "input_layernorm.weight"]);
  add(b + "attn_qkv.weight", ["q", "k", "v"].map((x) => `${p}self_attn.${x}_proj.weight`));
  if (st.has(p + "self_attn.q_proj.bias")) add(b + "attn_qkv.bias", ["q", "k", "v"].map((x) => `${p}self_attn.${x}_proj.bias`));
  add(b + "attn_output.weight", [p + "self_attn.o_proj.weight"]);
  add(b + "post_attention_norm.weight", [p + "post_self_attn_layernorm.weight"]);
  add(b + "ffn_norm.weight", [p + "post_attention_layernorm.weight"]);
  add(b + "ffn_up.weight", [p + "mlp.gate_up_proj.weight"]); // [gate | up]: llama.cpp's fused SwiGLU
  add(b + "ffn_down.weight", [p + "mlp.down_proj.weight"]);
  add(b + "post_ffw_norm.weight", [p + "post_mlp_layernorm.weight"]);
}
add("output_norm.weight", ["model.norm.weight"]);
add("output.weight", [st.has("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight"]);
for (const t of plan) {
  t.type = !t.matrix ? GGML.F32 : kind === "bf16" ? GGML.BF16 : kind === "q8_0" ? GGML.Q8_0 : GGML.F32;
  if (t.type === GGML.Q8_0 && t.cols % 32 !== 0) throw new Error(`${t.name}: ${t.cols} columns, Q8_0 needs a multiple of 32`);
  t.bytes = t.type === GGML.F32 ? t.rows * t.cols * 4 : t.type === GGML.BF16 ? t.rows * t.cols * 2 : t.rows * (t.cols / 32) * 34;
}

// ---- vocabulary -------------------------------------------------------------------------------------------------
const tok = JSON.parse(fs.readFileSync(tokenizerJson, "utf8"));
const vocabRows = st.get("model.embed_tokens.weight").shape[0];
const tokens = new Array(vocabRows);
const types = new Int32Array(vocabRows).fill(1); // NORMAL
for (const [t, id] of Object.entries(tok.model.vocab)) tokens[id] = t;
for (const a of tok.added_tokens) {
  tokens[a.id] = a.content;
  types[a.id] = a.special ? 3 : 4; // CONTROL, USER_DEFINED
}
for (let i = 0; i < vocabRows; i++) {
  if (tokens[i] === undefined) {
    tokens[i] = `[PAD${i}]`;
    types[i] = 5; // UNUSED
  }
}
const merges = tok.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
const special = (s) => tok.added_tokens.find((a) => a.content === s)?.id;

// ---- GGUF header ------------------------------------------------------------------------------------------------
const chunks = [];
const u32b = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const i32b = (v) => { const b = Buffer.alloc(4); b.writeInt32LE(v); return b; };
const u64b = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
const f32b = (v) => { const b = Buffer.alloc(4); b.writeFloatLE(v); return b; };
const str = (s) => { const b = Buffer.from(s, "utf8"); return Buffer.concat([u64b(b.length), b]); };
const kv = [];
const T = { U32: 4, I32: 5, F32: 6, STR: 8, ARR: 9 };
const put = (k, type, payload) => kv.push(Buffer.concat([str(k), u32b(type), payload]));
const arr = (elemType, items, enc) => Buffer.concat([u32b(elemType), u64b(items.length), ...items.map(enc)]);
const rope = config.rope_parameters ?? config;
const rotary = Math.round(config.head_dim * (rope.partial_rotary_factor ?? config.partial_rotary_factor ?? 1));
put("general.architecture", T.STR, str("glm4"));
put("general.name", T.STR, str(path.basename(dir)));
put("general.alignment", T.U32, u32b(32));
put("general.file_type", T.U32, u32b({ f32: 0, bf16: 32, q8_0: 7 }[kind]));
put("glm4.context_length", T.U32, u32b(config.max_position_embeddings));
put("glm4.embedding_length", T.U32, u32b(H));
put("glm4.block_count", T.U32, u32b(L));
put("glm4.feed_forward_length", T.U32, u32b(config.intermediate_size));
put("glm4.attention.head_count", T.U32, u32b(config.num_attention_heads));
put("glm4.attention.head_count_kv", T.U32, u32b(config.num_key_value_heads));
put("glm4.attention.key_length", T.U32, u32b(config.head_dim));
put("glm4.attention.value_length", T.U32, u32b(config.head_dim));
put("glm4.attention.layer_norm_rms_epsilon", T.F32, f32b(config.rms_norm_eps));
put("glm4.rope.dimension_count", T.U32, u32b(rotary));
put("glm4.rope.freq_base", T.F32, f32b(rope.rope_theta ?? 10000));
put("tokenizer.ggml.model", T.STR, str("gpt2"));
put("tokenizer.ggml.pre", T.STR, str("glm4"));
put("tokenizer.ggml.tokens", T.ARR, arr(T.STR, tokens, str));
put("tokenizer.ggml.token_type", T.ARR, arr(T.I32, [...types], i32b));
put("tokenizer.ggml.merges", T.ARR, arr(T.STR, merges, str));
put("tokenizer.ggml.eos_token_id", T.U32, u32b(special("<|endoftext|>")));
put("tokenizer.ggml.padding_token_id", T.U32, u32b(special("<|endoftext|>")));
put("tokenizer.ggml.bos_token_id", T.U32, u32b(special("[gMASK]") ?? special("<|endoftext|>")));
put("tokenizer.ggml.add_bos_token", 7, Buffer.from([0]));

let offset = 0;
const infos = plan.map((t) => {
  const dims = t.matrix ? [t.cols, t.rows] : [t.cols]; // ne0 (innermost) first
  t.offset = offset;
  offset += Math.ceil(t.bytes / 32) * 32;
  return Buffer.concat([str(t.name), u32b(dims.length), ...dims.map(u64b), u32b(t.type), u64b(t.offset)]);
});
chunks.push(Buffer.from("GGUF", "ascii"), u32b(3), u64b(plan.length), u64b(kv.length), ...kv, ...infos);
let header = Buffer.concat(chunks);
header = Buffer.concat([header, Buffer.alloc((32 - (header.length % 32)) % 32)]);

// ---- data -------------------------------------------------------------------------------------------------------
const fd = fs.openSync(out, "w");
fs.writeSync(fd, header, 0, header.length, 0);
const base = header.length;
const ROWS = 256;
for (const t of plan) {
  let at = base + t.offset;
  let col = 0; // 1-D parts are concatenated
  const vec = t.matrix ? null : new Float32Array(t.cols);
  for (const part of t.parts) {
    const s = st.get(part);
    const rows = t.matrix ? s.shape[0] : 1;
    for (let r0 = 0; r0 < rows; r0 += ROWS) {
      const n = Math.min(ROWS, rows - r0);
      const x = readRows(part, r0, n);
      if (!t.matrix) { vec.set(x, col); continue; }
      let buf;
      if (t.type === GGML.F32) {
        buf = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      } else if (t.type === GGML.BF16) {
        buf = Buffer.alloc(x.length * 2);
        for (let i = 0; i < x.length; i++) buf.writeUInt16LE(f32ToBf16(x[i]), 2 * i);
      } else {
        buf = Buffer.alloc((x.length / 32) * 34);
        for (let b = 0; b < x.length / 32; b++) {
          let amax = 0;
          for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
          const d = Math.fround(amax / 127);
          const id = d ? Math.fround(1 / d) : 0;
          buf.writeUInt16LE(f32ToF16(d), 34 * b);
          for (let j = 0; j < 32; j++) buf.writeInt8(roundf(Math.fround(x[32 * b + j] * id)), 34 * b + 2 + j);
        }
      }
      fs.writeSync(fd, buf, 0, buf.length, at);
      at += buf.length;
    }
    col += t.matrix ? 0 : s.shape[0];
  }
  if (!t.matrix) fs.writeSync(fd, Buffer.from(vec.buffer), 0, vec.byteLength, at);
}
fs.closeSync(fd);
console.log(`wrote ${out}: ${plan.length} tensors (${kind}), ${tokens.length} tokens, ${((base + offset) / 1e9).toFixed(3)} GB`);
