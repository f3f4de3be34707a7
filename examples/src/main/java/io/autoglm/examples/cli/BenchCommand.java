package io.autoglm.examples.cli;

import io.autoglm.internal.EngineAccess;
import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import io.autoglm.GenerationHandle;
import io.autoglm.SamplingParams;
import io.autoglm.model.CheckpointLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Decode throughput at several concurrency levels, the ratio to the memory-bandwidth floor at batch 1, the scaling
 * ratio, and the engine's time outside the forward pass.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measure generated tokens/s at each concurrency, against the memory-bandwidth floor.")
final class BenchCommand implements Callable<Integer> {
  @Mixin EngineOptions engine;

  @Option(names = "--concurrency", split = ",", defaultValue = "1,4,16,64",
      description = "Concurrent requests per run (default ${DEFAULT-VALUE}).")
  List<Integer> concurrency;

  @Option(names = "--prompt-len", defaultValue = "32", description = "Prompt tokens (default ${DEFAULT-VALUE}).")
  int promptLen;

  @Option(names = "--max-tokens", defaultValue = "32", description = "Generated tokens per request (default ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--bandwidth-mb", defaultValue = "1024", description = "Array size for the bandwidth probe.")
  int bandwidthMb;

  @Override
  public Integer call() {
    try (AutoGLM glm = engine.builder().build()) {
      long weightBytes = (long) (CheckpointLayout.decodeReadElements(EngineAccess.get().modelConfig(glm))
          * bytesPerWeight(glm.backendName()));
      double bandwidth = bandwidth(glm.backendName());
      double floorTokS = bandwidth / weightBytes;
      System.out.printf(Locale.ROOT, "model=%s backend=%s layers=%d hidden=%d vocab=%d weights_read_per_token=%.3f GB "
              + "memory_bandwidth=%.2f GB/s floor=%.2f tok/s prompt=%d max_tokens=%d%n",
          glm.modelPath(), glm.backendName(), glm.config().numLayers(), glm.config().hiddenSize(),
          glm.config().vocabSize(), weightBytes / 1e9, bandwidth / 1e9, floorTokS, promptLen, maxTokens);
      run(glm, 1, 4); // warm-up
      double first = 0;
      double last = 0;
      for (int c : concurrency) {
        EngineStats before = glm.stats();
        long t0 = System.nanoTime();
        long[] lastFirstToken = new long[1];
        int generated = run(glm, c, maxTokens, lastFirstToken);
        long end = System.nanoTime();
        double seconds = (end - t0) / 1e9;
        double decodeTokS = (generated - c) / ((end - lastFirstToken[0]) / 1e9);
        EngineStats after = settledStats(glm);
        double tokS = generated / seconds;
        double overhead = 100.0 * (1 - (double) (after.forwardNanos() - before.forwardNanos())
            / Math.max(1, after.stepNanos() - before.stepNanos()));
        System.out.printf(Locale.ROOT, "concurrency=%d generated=%d seconds=%.3f tok/s=%.2f per_request_tok/s=%.2f "
                + "decode_tok/s=%.3f steps=%d engine_overhead=%.2f%%%s%n", c, generated, seconds, tokS, tokS / c,
            decodeTokS, after.steps() - before.steps(), overhead,
            c == 1 && !Double.isNaN(floorTokS) ? String.format(Locale.ROOT, " floor_ratio=%.3f decode_floor_ratio=%.3f",
                tokS / floorTokS, decodeTokS / floorTokS) : "");
        if (first == 0) {
          first = tokS;
        }
        last = tokS;
      }
      System.out.printf(Locale.ROOT, "scaling_last_over_first=%.2f%n", last / first);
      return 0;
    }
  }

  /** Stats once the engine has booked its last step (results complete before the step's timing is added). */
  private static EngineStats settledStats(AutoGLM glm) {
    try {
      for (int i = 0; i < 100 && glm.stats().running() > 0; i++) {
        Thread.sleep(5);
      }
      Thread.sleep(50);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return glm.stats();
  }

  /**
   * Bytes a decode step reads per weight: fp32 on the DJL backend, bf16 or int8 with an fp16 scale per 32 weights
   * (34 bytes per 32, as GGUF's Q8_0) on cpu-native; NaN elsewhere.
   */
  private double bytesPerWeight(String backend) {
    if (backend.equals("cpu")) {
      return 4;
    }
    if (backend.equals(io.autoglm.cpu.NativeCpuBackendProvider.NAME)) {
      return "int8".equals(engine.backendProperties.get(io.autoglm.backend.BackendOptions.QUANTIZATION))
          ? 34.0 / 32 : 2;
    }
    return Double.NaN;
  }

  /** Read bandwidth measured the backend's way: PyTorch's sum (cpu), the native threads' read (cpu-native). */
  private double bandwidth(String backend) {
    long bytes = bandwidthMb * 1_000_000L;
    if (backend.equals("cpu")) {
      return io.autoglm.backend.cpu.MemoryBandwidth.readBytesPerSecond(bytes, 5);
    }
    if (backend.equals(io.autoglm.cpu.NativeCpuBackendProvider.NAME)) {
      return io.autoglm.cpu.NativeCpuBackendProvider.readBandwidth(engine.backendProperties, bytes, 5);
    }
    return Double.NaN;
  }

  private int run(AutoGLM glm, int concurrent, int tokens) {
    return run(glm, concurrent, tokens, new long[1]);
  }

  /** Runs the requests; {@code lastFirstToken[0]} gets the nanoTime at which the last of them had its first token. */
  private int run(AutoGLM glm, int concurrent, int tokens, long[] lastFirstToken) {
    SplittableRandom random = new SplittableRandom(concurrent);
    List<GenerationHandle> handles = new ArrayList<>();
    for (int i = 0; i < concurrent; i++) {
      List<Integer> prompt = new ArrayList<>();
      for (int t = 0; t < promptLen; t++) {
        prompt.add(random.nextInt(glm.config().vocabSize()));
      }
      GenerationHandle h = glm.submit(prompt, SamplingParams.builder().maxNewTokens(tokens).ignoreEos(true).build());
      h.firstToken().thenRun(() -> {
        synchronized (lastFirstToken) {
          lastFirstToken[0] = Math.max(lastFirstToken[0], System.nanoTime());
        }
      });
      handles.add(h);
    }
    return handles.stream().mapToInt(h -> h.result().join().tokenIds().size()).sum();
  }
}
