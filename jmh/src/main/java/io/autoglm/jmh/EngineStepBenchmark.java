package io.autoglm.jmh;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import io.autoglm.internal.EngineAccess;
import io.autoglm.sched.StepClock;
import io.autoglm.testkit.SmallEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
 * The engine's own host work per step, without a device: the real engine (scheduler, step runner, sampling rows,
 * update, delivery to the listeners) over {@link NullForwardBackend}, whose forward pass is a walk of shape-only
 * ops and whose sampling is a hash. Each round: {@code concurrency} requests of {@code newTokens} new tokens, all
 * submitted at once (decode steps at batch {@code concurrency} after the prefills). {@code delivery}: {@code result}
 * sends 128-token id prompts and waits for the results only (as {@code EngineBench engine} does); {@code stream}
 * sends a 9-word text completion whose tokens a subscriber takes as they come (detokenized, stop strings checked,
 * as bench-serve and the HTTP server do; a short prompt, so that tokenizing it does not starve the engine). After
 * each iteration the phases per step are printed ({@link StepClock}): the score is ms per round, the printed line
 * says where the engine thread spent it. {@code deviceMicros} makes each step's sampling wait that long, as for a
 * GPU step: the listeners' work on the delivery thread then overlaps it.
 *
 * <p>Run: {@code java -jar jmh/target/autoglm-jmh.jar EngineStep} (from the repository root's {@code jmh/}
 * folder or with {@code -Dautoglm.fixtures=/work/shared/fixtures}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 4)
@Fork(value = 1, jvmArgsAppend = {"-Dautoglm.checkInvariants=false", "-Xmx2g"})
public class EngineStepBenchmark {
  @Param({"1", "64", "256"})
  public int concurrency;

  @Param({"result", "stream"})
  public String delivery;

  @Param({"128"})
  public int newTokens;

  /** A device step's time, spent waiting in sampling as a GPU backend does (0: none). */
  @Param({"0", "2000"})
  public int deviceMicros;

  private AutoGLM glm;
  private StepClock.Phases atStart;
  private long roundsAtStart;
  private long rounds;
  private final AtomicLong streamedChars = new AtomicLong();
  private String prompt;
  private List<Integer> promptIds;

  @Setup(Level.Trial)
  public void load() {
    int blocks = concurrency * ((128 + newTokens) / 16 + 2) + 16;
    glm = AutoGLM.builder().modelPath(SmallEngine.checkpoint())
        .tokenizerPath(SmallEngine.fixtures().resolve("tokenizers/glm-4-9b-chat-hf")).backend("null")
        .backendProperty(NullForwardBackend.DEVICE_MICROS, Integer.toString(deviceMicros))
        .kvBlocks(blocks).kvBlockSizeTokens(16).maxRunningSequences(256).prefixCaching(false).build();
    prompt = "The quick brown fox jumps over the lazy dog"; // short: tokenizing it must not starve the engine
    promptIds = new ArrayList<>();
    for (int i = 0; i < 128; i++) {
      promptIds.add(1000 + i * 37);
    }
  }

  @TearDown(Level.Trial)
  public void close() {
    glm.close();
  }

  @Setup(Level.Iteration)
  public void mark() {
    atStart = EngineAccess.get().enginePhases(glm);
    roundsAtStart = rounds;
  }

  @TearDown(Level.Iteration)
  public void report() {
    StepClock.Phases p = EngineAccess.get().enginePhases(glm).minus(atStart);
    System.out.printf(java.util.Locale.ROOT, "%n  [n=%d %s device %d µs] %d rounds, %s; engine thread's own work"
        + " %.1f µs/step; all %.1f µs/step = %.2f µs/row%n", concurrency, delivery, deviceMicros,
        rounds - roundsAtStart, p, p.hostMicrosPerStep(), p.busyNanos() / 1e3 / Math.max(1, p.steps()),
        p.busyNanos() / 1e3 / Math.max(1, p.rows()));
  }

  /** One round: every request submitted, then every result awaited. */
  @Benchmark
  public long round() {
    rounds++;
    SamplingParams params = SamplingParams.builder().maxNewTokens(newTokens).ignoreEos(true).temperature(1)
        .seed(rounds).build();
    List<GenerationHandle> hs = new ArrayList<>(concurrency);
    for (int i = 0; i < concurrency; i++) {
      GenerationHandle h;
      if (delivery.equals("stream")) {
        h = glm.submit(TextRequest.completion(prompt, params));
        h.onToken(e -> streamedChars.addAndGet(e.text().length()));
      } else {
        h = glm.submit(promptIds, params);
      }
      hs.add(h);
    }
    long tokens = 0;
    for (GenerationHandle h : hs) {
      GenerationResult r = h.result().join();
      if (r.tokenIds().size() != newTokens) {
        throw new IllegalStateException("a request made " + r.tokenIds().size() + " tokens, expected " + newTokens
            + " (" + r.finishReason() + ")");
      }
      tokens += r.tokenIds().size();
    }
    return tokens + streamedChars.get();
  }
}
