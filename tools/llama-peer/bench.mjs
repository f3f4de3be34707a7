// The llama.cpp peer of the CPU benchmark (docs/cpu.md): node-llama-cpp's prebuilt CPU binaries on a GGUF that
// gguf.mjs wrote from our checkpoint. One run: load, a warm-up generation, then PROMPT random token ids (seeded,
// from ids below the tokenizer's 151,329 text tokens) and NEW greedy tokens, timed around the generator.
//
//   node bench.mjs MODEL.gguf [--threads 2] [--prompt 32] [--new 64] [--seed 1]
//
// Prints one line: prefill_ms, decode tok/s (NEW − 1 tokens after the first over their time) and end-to-end
// tok/s (NEW tokens over prefill + decode), as the Java bench prints them.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const args = process.argv.slice(2);
const model = args[0];
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? def : Number(args[i + 1]);
};
const threads = opt("threads", 2), promptLen = opt("prompt", 32), newTokens = opt("new", 64), seed = opt("seed", 1);
if (!model) {
  console.error("usage: node bench.mjs MODEL.gguf [--threads 2] [--prompt 32] [--new 64] [--seed 1]");
  process.exit(2);
}

const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error });
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const ctx = await m.createContext({ contextSize: 256, batchSize: 512, threads: { ideal: threads, min: threads },
  flashAttention: false });

let state = seed >>> 0;
const rand = () => { // xorshift32: the same ids on every run of one seed
  state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
  return state;
};

async function generate(n) {
  const seq = ctx.getSequence();
  const prompt = Array.from({ length: promptLen }, () => rand() % 151329);
  const t0 = performance.now();
  let first = 0, count = 0;
  for await (const _ of seq.evaluate(prompt, { temperature: 0 })) {
    count++;
    if (count === 1) first = performance.now();
    if (count >= n) break;
  }
  const t1 = performance.now();
  seq.dispose();
  return { prefillMs: first - t0, decodeMs: t1 - first, total: t1 - t0, count };
}

await generate(4); // warm-up
const r = await generate(newTokens);
console.log(`peer=llama.cpp(node-llama-cpp) model=${model} threads=${threads} prompt=${promptLen} new=${r.count} `
  + `prefill_ms=${r.prefillMs.toFixed(1)} decode_tok/s=${((r.count - 1) / (r.decodeMs / 1000)).toFixed(3)} `
  + `e2e_tok/s=${(r.count / (r.total / 1000)).toFixed(3)}`);
await ctx.dispose();
await m.dispose();
