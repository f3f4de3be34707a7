package io.autoglm.examples.cli;

import io.autoglm.AutoGLM;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that load a model. */
final class EngineOptions {
  @Option(names = "--model", required = true, description = "Checkpoint folder (config.json + safetensors).")
  Path model;

  @Option(names = "--backend", description = "cpu, cpu-native, cuda, ... (default: the best available).")
  String backend;

  @Option(names = "--kv-block-size", defaultValue = "16", description = "Tokens per KV block (default ${DEFAULT-VALUE}).")
  int kvBlockSize;

  @Option(names = "--kv-blocks", defaultValue = "0", description = "KV blocks (default: sized from memory).")
  int kvBlocks;

  @Option(names = "--max-batch-tokens", defaultValue = "2048", description = "Tokens per step at most (default ${DEFAULT-VALUE}).")
  int maxBatchTokens;

  @Option(names = "--max-running", defaultValue = "256", description = "Sequences per step at most (default ${DEFAULT-VALUE}).")
  int maxRunning;

  @Option(names = "--no-prefix-caching", description = "Turn prefix caching off.")
  boolean noPrefixCaching;

  @Option(names = "--tokenizer", description = "Tokenizer folder, when not the model folder.")
  Path tokenizer;

  @Option(names = "--quantization", description = "fp8 or int8: quantize the weights at load (default: as stored).")
  String quantization;

  @Option(names = "--kv-cache-dtype", description = "auto or fp8: how the KV cache stores keys and values "
      + "(default: auto).")
  String kvCacheDtype;

  @Option(names = "--backend-property", description = "A backend setting key=value, e.g. autoglm.quantization=int8 "
      + "or cpu-native.threads=2 (repeatable).")
  java.util.Map<String, String> backendProperties = new java.util.LinkedHashMap<>();

  AutoGLM.Builder builder() {
    AutoGLM.Builder b = AutoGLM.builder().modelPath(model).kvBlockSizeTokens(kvBlockSize)
        .maxBatchTokens(maxBatchTokens).maxRunningSequences(maxRunning).prefixCaching(!noPrefixCaching)
        .loadProgress((done, total) -> {
          if (total >= 8) {
            System.err.printf("\rloading layer %d/%d", done, total);
            if (done == total) {
              System.err.println();
            }
          }
        });
    if (backend != null) {
      b.backend(backend);
    }
    if (quantization != null) {
      b.quantization(quantization);
    }
    if (kvCacheDtype != null) {
      b.kvCacheDtype(kvCacheDtype);
    }
    backendProperties.forEach(b::backendProperty);
    if (tokenizer != null) {
      b.tokenizerPath(tokenizer);
    }
    if (kvBlocks > 0) {
      b.kvBlocks(kvBlocks);
    }
    return b;
  }
}
