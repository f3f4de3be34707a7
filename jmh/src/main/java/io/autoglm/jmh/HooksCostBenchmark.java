package io.autoglm.jmh;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.cpu.DjlCpuBackend;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.RateLimits;
import io.autoglm.spi.ResponseCache;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The production defaults' cost against the decode step they ride on, measured in one run:
 * {@code decodeStepBatch16} is one forward + sampling step of 16 sequences (context 64) on the CPU backend;
 * {@code defaultHooksPerStep} is what the Caffeine cache, token-bucket limiter and Micrometer metrics do for such a
 * step: one {@code onStep}, plus 1/32 of each of 16 requests' per-request work (limiter acquire and release, cache
 * key and miss-path insert, first-token, cache-lookup and finish callbacks) for 32-token requests. Their ratio is
 * the overhead.
 *
 * <p>Run: {@code java -jar jmh/target/autoglm-jmh.jar HooksCost -p model=../shared/fixtures/models/glm4-tiny}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1)
public class HooksCostBenchmark {
  private static final int BATCH = 16;
  private static final int CONTEXT = 64;
  private static final int TOKENS_PER_REQUEST = 32;

  /** A loaded model with 16 sequences of 64 cached tokens. */
  @State(Scope.Benchmark)
  public static class Step {
    @Param({"../shared/fixtures/models/glm4-tiny"})
    public String model;

    DjlCpuBackend backend;
    GlmModel glm;
    KvCache kv;
    StepBatch decode;
    List<SamplingRow> rows;

    @Setup(Level.Trial)
    public void load() {
      Path dir = Path.of(model);
      ModelConfig c = ModelConfig.load(dir);
      backend = new DjlCpuBackend();
      try (Checkpoint ckpt = Checkpoint.open(dir)) {
        glm = GlmModel.load(c, ckpt, backend, LoadProgress.none());
      }
      int blocksPerSeq = CONTEXT / 16 + 1;
      kv = backend.allocateKv(new KvLayout(c.numLayers(), BATCH * blocksPerSeq + 1, 16, c.numKvHeads(), c.headDim()));
      List<StepBatch.Sequence> prefill = new ArrayList<>();
      List<StepBatch.Sequence> step = new ArrayList<>();
      int[] tokens = new int[BATCH * CONTEXT];
      int[] positions = new int[tokens.length];
      int[] slots = new int[tokens.length];
      int[] dTokens = new int[BATCH];
      int[] dPositions = new int[BATCH];
      int[] dSlots = new int[BATCH];
      for (int s = 0; s < BATCH; s++) {
        int[] table = new int[blocksPerSeq];
        for (int b = 0; b < blocksPerSeq; b++) {
          table[b] = 1 + s * blocksPerSeq + b;
        }
        for (int p = 0; p < CONTEXT; p++) {
          int t = s * CONTEXT + p;
          tokens[t] = 4 + (t * 31) % 300;
          positions[t] = p;
          slots[t] = table[p / 16] * 16 + p % 16;
        }
        prefill.add(new StepBatch.Sequence(s * CONTEXT, CONTEXT, CONTEXT, table));
        dTokens[s] = 7;
        dPositions[s] = CONTEXT;
        dSlots[s] = table[CONTEXT / 16] * 16;
        step.add(new StepBatch.Sequence(s, 1, CONTEXT + 1, table));
      }
      try (ForwardStep f = backend.begin(new StepBatch(tokens, positions, slots, prefill), kv)) {
        glm.forward(f, new int[] {tokens.length - 1});
      }
      decode = new StepBatch(dTokens, dPositions, dSlots, step);
      rows = Collections.nCopies(BATCH, new SamplingRow(0f, 0, 1f, 0, 0));
    }

    @TearDown(Level.Trial)
    public void close() {
      kv.close();
      backend.close();
    }
  }

  /** The defaults, as the builder wires them. */
  @State(Scope.Benchmark)
  public static class Hooks {
    ResponseCache cache;
    RateLimiter limiter;
    EngineMetrics metrics;
    SamplingParams params;
    GenerationResult result;
    long round;

    @Setup(Level.Trial)
    public void create() {
      cache = ResponseCache.caffeine(64L << 20, Duration.ofMinutes(10));
      limiter = RateLimiter.tokenBucket(RateLimits.builder().requestsPerMinute(1_000_000_000L)
          .tokensPerMinute(1_000_000_000_000L).maxConcurrentRequests(1_000_000).build());
      metrics = EngineMetrics.micrometer(new SimpleMeterRegistry(), "glm4-tiny");
      params = SamplingParams.builder().maxNewTokens(TOKENS_PER_REQUEST).seed(1).temperature(1).build();
      result = new GenerationResult("req", Collections.nCopies(TOKENS_PER_REQUEST, 5), "", FinishReason.LENGTH,
          new Usage(CONTEXT, TOKENS_PER_REQUEST, 0));
    }
  }

  @Benchmark
  public int[] decodeStepBatch16(Step s) {
    try (ForwardStep f = s.backend.begin(s.decode, s.kv)) {
      return f.sample(s.glm.forward(f, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}), s.rows);
    }
  }

  /** One step's share of the default hooks' work for 16 running 32-token requests. */
  @Benchmark
  public Object defaultHooksPerStep(Hooks h) {
    h.metrics.onStep(BATCH, 0, 0.5, BATCH);
    // 16 requests' lifecycle hooks happen once per 32 steps: run them every 32nd call, so the average is the share
    if (++h.round % TOKENS_PER_REQUEST != 0) {
      return h;
    }
    Object last = null;
    for (int i = 0; i < BATCH; i++) {
      List<Integer> prompt = List.of((int) (h.round & 0xffff), i, 3, 4, 5, 6, 7, 8);
      RateLimiter.Permit permit = h.limiter.acquire("user-" + i, CONTEXT + TOKENS_PER_REQUEST);
      ResponseCache.Key key = ResponseCache.Key.ofTokens("glm4-tiny", prompt, h.params).orElseThrow();
      CompletableFuture<GenerationResult> f = h.cache.getOrCompute(key, () -> CompletableFuture.completedFuture(h.result));
      h.metrics.onResponseCacheLookup(false);
      h.metrics.onPrefixCacheLookup(0, CONTEXT);
      h.metrics.onFirstToken("text_completion", 1_000_000);
      h.metrics.onRequestFinished("text_completion", h.result.usage(), FinishReason.LENGTH, 30_000_000, 29_000_000);
      permit.release(CONTEXT + TOKENS_PER_REQUEST);
      last = f;
    }
    return last;
  }
}
