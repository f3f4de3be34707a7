package io.autoglm.jmh;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.SamplingParams;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.RateLimits;
import io.autoglm.spi.ResponseCache;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 * What the production defaults (Caffeine response cache, token-bucket rate limiter, Micrometer metrics) add to
 * decoding: 16 concurrent seeded requests of 32 tokens each (decode steps at batch 16), with the hooks off and on.
 * Each round uses new prompts, so the cache is consulted and filled but never hits: only its bookkeeping counts.
 *
 * <p>Run: {@code java -jar jmh/target/autoglm-jmh.jar HooksOverhead -p model=../shared/fixtures/models/glm4-tiny}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = "-Dautoglm.checkInvariants=false")
public class HooksOverheadBenchmark {
  @Param({"../shared/fixtures/models/glm4-tiny"})
  public String model;

  @Param({"none", "defaults"})
  public String hooks;

  private AutoGLM glm;
  private int round;

  @Setup(Level.Trial)
  public void load() {
    AutoGLM.Builder b = AutoGLM.builder().modelPath(Path.of(model)).kvBlocks(256);
    if (hooks.equals("defaults")) {
      b.responseCache(ResponseCache.caffeine(64L << 20, Duration.ofMinutes(10)))
          .rateLimiter(RateLimiter.tokenBucket(RateLimits.builder().requestsPerMinute(10_000_000)
              .tokensPerMinute(1_000_000_000).maxConcurrentRequests(1_000).build()))
          .meterRegistry(new SimpleMeterRegistry());
    }
    glm = b.build();
  }

  @TearDown(Level.Trial)
  public void close() {
    glm.close();
  }

  /** 16 requests × 32 tokens: one prefill step, then 31 decode steps at batch 16. */
  @Benchmark
  public int batch16() {
    int r = round++;
    List<GenerationHandle> hs = new ArrayList<>(16);
    for (int i = 0; i < 16; i++) {
      // distinct prompts per round: the cache is consulted and filled, never hit
      hs.add(glm.submit(List.of(4 + (r * 16 + i) % 300, 5 + i, 6, 7, 8, 9, 10, 11),
          SamplingParams.builder().maxNewTokens(32).ignoreEos(true).seed(r).temperature(1).build()));
    }
    int n = 0;
    for (GenerationHandle h : hs) {
      n += h.result().join().tokenIds().size();
    }
    return n;
  }
}
