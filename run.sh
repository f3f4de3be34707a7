#!/usr/bin/env bash
# Builds AutoGLM and runs the main job: a chat turn streamed from a GLM checkpoint.
# MODEL=/path/to/checkpoint uses a real checkpoint (it must hold its tokenizer). Without it, a small random checkpoint
# with the real glm-4-9b-chat vocabulary is written and paired with the real GLM-4 tokenizer from ../shared.
set -euo pipefail
cd "$(dirname "$0")"
export DJL_OFFLINE=true
mvn -B -q -ntp -DskipTests install
CLI="java -jar examples/target/autoglm-cli.jar"
if [[ -n "${MODEL:-}" ]]; then
  ARGS=(--model "$MODEL")
else
  MODEL_DIR=${MODEL_DIR:-target/glm-random}
  if [[ ! -f "$MODEL_DIR/config.json" ]]; then
    $CLI init-random --like glm-4-9b-chat --set num_hidden_layers=2 --set hidden_size=256 \
      --set intermediate_size=512 --set num_attention_heads=4 --set head_dim=64 --out "$MODEL_DIR"
  fi
  TOKENIZER=../shared/fixtures/tokenizers/glm-4-9b-chat-hf
  if [[ ! -f "$TOKENIZER/tokenizer.json" ]]; then
    echo "no GLM-4 tokenizer at $TOKENIZER: generating from token ids instead of chatting" >&2
    exec $CLI generate --model "$MODEL_DIR" --kv-blocks 256 --prompt-ids 151331,151333,151336,9703 --max-tokens 32
  fi
  ARGS=(--model "$MODEL_DIR" --tokenizer "$TOKENIZER" --kv-blocks 256)
fi
printf 'Hello! Who are you?\n/exit\n' | $CLI chat "${ARGS[@]}" --max-tokens 48 --temperature 0.8 --seed 1
