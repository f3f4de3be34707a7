package io.autoglm.backend.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.AutoGLM;
import io.autoglm.FinishReason;
import io.autoglm.Fixtures;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The {@link ComputeBackend} SPI's contract as a test kit, which every backend's tests extend (the CPU backend in
 * autoglm-core, the CUDA backend in autoglm-cuda). The reference is transformers' own fp32 logits in each fixture's
 * {@code reference.safetensors}; the other checks compare a backend with itself across step layouts that must not
 * change the result:
 * <ul>
 *   <li>logits of a one-step prefill match the fixture within {@link #referenceTolerance} (the backend's dtype);
 *   <li>all prompts in one step, in a KV cache of 8-token blocks with reversed block tables, match each prompt alone
 *       in 16-token blocks, and a prefill in three chunks or ending in a decode step matches one step, within
 *       {@link #layoutTolerance};
 *   <li>a step closed before its results are read leaves nothing behind; a closed KV cache gives its memory back;
 *   <li>a request cancelled through the engine frees its KV blocks;
 *   <li>an FP8 KV cache ({@code autoglm.kvCacheDtype=fp8}) computes what the default cache computes with every key and
 *       value rounded to E4M3 first, in a prefill and in the decode step after it ({@link Fp8KvContract}), or the
 *       backend refuses it by name;
 *   <li>bad input (a foreign KV cache, a block table too short for the context, sampling rows that do not match the
 *       logits) fails with an IllegalArgumentException whose message names the value, and the backend runs the next
 *       step correctly.
 * </ul>
 * Subclasses abort (JUnit Assumptions) in {@link #newBackend} where the backend cannot run, e.g. without a GPU.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendContract {
  /**
   * A new backend on this machine with these backend properties on top of the subclass's own; aborts the test
   * (Assumptions) when the backend cannot run here.
   */
  protected abstract ComputeBackend newBackend(Map<String, String> properties);

  /** A new backend with the subclass's own properties. */
  protected final ComputeBackend newBackend() {
    return newBackend(Map.of());
  }

  /** Whether the backend implements {@code autoglm.kvCacheDtype=fp8} (else it must refuse it by name). */
  protected boolean implementsFp8Kv() {
    return false;
  }

  /** The name the engine knows this backend by ({@code AutoGLM.builder().backend(name)}). */
  protected abstract String backendName();

  /** Bound on ‖logits − reference‖ / ‖reference‖ over one prompt's rows, for fixture {@code c}. */
  protected abstract double referenceTolerance(ModelConfig c);

  /** Bound on the same norm between two step layouts of one computation (batched, paged, chunked vs one step). */
  protected abstract double layoutTolerance(ModelConfig c);

  /** The fixtures checked (directories under the shared fixtures' models/, each with reference.safetensors). */
  protected List<String> fixtures() {
    return List.of("glm-tiny", "glm4-tiny", "glm4-tiny-bf16", "glm4moe-tiny");
  }

  final List<String> fixtureNames() {
    return fixtures();
  }

  @ParameterizedTest
  @MethodSource("fixtureNames")
  void logitsOfAOneStepPrefillMatchTheFixtureReference(String fixture) {
    try (Loaded m = load(fixture); KvCache kv = m.kv(16, 256)) {
      double tol = referenceTolerance(m.config());
      int block = 0;
      for (Reference.Prompt p : m.reference().prompts()) {
        Run run = new Run(blocks(block, p.inputIds().length, 16, false));
        block += run.blockTable().length;
        double rel = Reference.relativeError(m.logits(kv, List.of(run), List.of(p.inputIds())), 0, p.logits());
        assertTrue(rel <= tol, String.format("%s p%d: ‖Δ‖/‖ref‖ %.3g > %.3g", fixture, p.index(), rel, tol));
      }
    }
  }

  @ParameterizedTest
  @MethodSource("fixtureNames")
  void allPromptsInOneStepOfAPagedCacheMatchEachPromptAlone(String fixture) {
    try (Loaded m = load(fixture); KvCache kv16 = m.kv(16, 256); KvCache kv8 = m.kv(8, 512)) {
      List<Reference.Prompt> prompts = m.reference().prompts();
      List<Run> batched = new ArrayList<>();
      List<int[]> tokens = new ArrayList<>();
      int block8 = 0;
      for (Reference.Prompt p : prompts) {
        Run run = new Run(blocks(block8, p.inputIds().length, 8, true)); // reversed: no block follows its neighbour
        block8 += run.blockTable().length;
        batched.add(run);
        tokens.add(p.inputIds());
      }
      float[][] all = m.logits(kv8, batched, tokens);
      int row = 0;
      int block16 = 0;
      for (Reference.Prompt p : prompts) {
        Run alone = new Run(blocks(block16, p.inputIds().length, 16, false));
        block16 += alone.blockTable().length;
        float[][] single = m.logits(kv16, List.of(alone), List.of(p.inputIds()));
        double rel = Reference.relativeError(all, row, single);
        double tol = layoutTolerance(m.config());
        assertTrue(rel <= tol, String.format("%s p%d batched vs alone: %.3g > %.3g", fixture, p.index(), rel, tol));
        row += p.inputIds().length;
      }
    }
  }

  @ParameterizedTest
  @MethodSource("fixtureNames")
  void chunkedPrefillAndADecodeStepMatchOneStep(String fixture) {
    try (Loaded m = load(fixture); KvCache kv = m.kv(16, 256)) {
      int[] ids = longest(m.reference()).inputIds();
      float[][] one = m.logits(kv, List.of(new Run(blocks(0, ids.length, 16, false))), List.of(ids));
      Run chunked = new Run(blocks(50, ids.length, 16, false));
      int third = ids.length / 3;
      m.logits(kv, List.of(chunked), List.of(Arrays.copyOfRange(ids, 0, third)));
      m.logits(kv, List.of(chunked), List.of(Arrays.copyOfRange(ids, third, 2 * third)));
      float[][] last = m.logits(kv, List.of(chunked), List.of(Arrays.copyOfRange(ids, 2 * third, ids.length)));
      double tol = layoutTolerance(m.config());
      double rel = Reference.relativeError(last, 0, Arrays.copyOfRange(one, 2 * third, ids.length));
      assertTrue(rel <= tol, String.format("%s three chunks vs one step: %.3g > %.3g", fixture, rel, tol));
      Run decoded = new Run(blocks(100, ids.length, 16, false));
      m.logits(kv, List.of(decoded), List.of(Arrays.copyOf(ids, ids.length - 1)));
      float[][] step = m.logits(kv, List.of(decoded), List.of(new int[] {ids[ids.length - 1]}));
      rel = Reference.relativeError(step, 0, new float[][] {one[ids.length - 1]});
      assertTrue(rel <= tol, String.format("%s prefill + decode step vs one step: %.3g > %.3g", fixture, rel, tol));
    }
  }

  @Test
  void aStepClosedBeforeItsResultsAreReadLeavesNothingBehind() {
    String fixture = fixtures().get(0);
    try (Loaded m = load(fixture); KvCache kv = m.kv(16, 256)) {
      Reference.Prompt p = m.reference().prompts().get(0);
      float[][] before = m.logits(kv, List.of(new Run(blocks(0, p.inputIds().length, 16, false))),
          List.of(p.inputIds()));
      for (int i = 0; i < 3; i++) { // the step's work is launched, its results never read
        Run abandoned = new Run(blocks(100, p.inputIds().length, 16, false));
        try (ForwardStep s = m.backend().begin(abandoned.batch(p.inputIds(), 16), kv)) {
          m.model().forward(s, new int[] {p.inputIds().length - 1});
        }
      }
      float[][] after = m.logits(kv, List.of(new Run(blocks(200, p.inputIds().length, 16, false))),
          List.of(p.inputIds()));
      assertEquals(0.0, Reference.relativeError(after, 0, before), fixture + ": same step, same backend state");
    }
  }

  @Test
  void aClosedKvCacheGivesItsMemoryBack() {
    try (Loaded m = load(fixtures().get(0))) {
      OptionalLong before = m.backend().kvCacheBudgetBytes();
      KvCache kv = m.kv(16, 1024);
      KvLayout layout = kv.layout();
      OptionalLong held = m.backend().kvCacheBudgetBytes();
      kv.close();
      OptionalLong after = m.backend().kvCacheBudgetBytes();
      assertEquals(before.isPresent(), after.isPresent(), "a backend reports a KV budget always or never");
      if (before.isPresent()) {
        long bytes = layout.bytesPerToken(m.backend().weightBytesPerElement()) * layout.numBlocks()
            * layout.blockSizeTokens();
        assertTrue(before.getAsLong() - held.getAsLong() >= bytes, String.format(
            "budget %d before a %d-byte KV cache, %d with it", before.getAsLong(), bytes, held.getAsLong()));
        assertTrue(after.getAsLong() >= before.getAsLong() - bytes / 100, String.format( // other processes may run
            "budget %d before a %d-byte KV cache, %d after its close", before.getAsLong(), bytes, after.getAsLong()));
      }
    }
  }

  @Test
  void cancellingARequestFreesItsKvBlocks() throws InterruptedException {
    newBackend().close(); // aborts here where the backend cannot run
    try (AutoGLM glm = AutoGLM.builder().modelPath(model(fixtures().get(0))).backend(backendName()).kvBlocks(64)
        .build()) {
      GenerationHandle h = glm.submit(List.of(5, 6, 7, 8, 9),
          SamplingParams.builder().maxNewTokens(300).ignoreEos(true).build());
      long held = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30); // a hang guard
      while (glm.stats().kvUsage() == 0 && System.nanoTime() < held) {
        Thread.sleep(2); // until the request holds blocks
      }
      assertTrue(glm.stats().kvUsage() > 0, "the request holds KV blocks before it is cancelled");
      h.cancel();
      GenerationResult r = h.result().join();
      assertTrue(r.finishReason() == FinishReason.CANCELLED, "finish reason " + r.finishReason());
      long freed = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30); // a hang guard
      while ((glm.stats().running() > 0 || glm.stats().kvUsage() > 0) && System.nanoTime() < freed) {
        Thread.sleep(10);
      }
      assertEquals(0, glm.stats().running());
      assertEquals(0.0, glm.stats().kvUsage(), "KV blocks in use after the cancelled request ended");
    }
  }

  @Test
  void badInputFailsWithASentenceAndTheNextStepIsRight() {
    String fixture = fixtures().get(0);
    try (Loaded m = load(fixture); KvCache kv = m.kv(16, 256)) {
      Reference.Prompt p = m.reference().prompts().get(0);
      int[] ids = p.inputIds();
      KvCache foreign = new KvCache() {
        @Override
        public KvLayout layout() {
          return kv.layout();
        }

        @Override
        public void close() {}
      };
      StepBatch ok = new Run(blocks(0, ids.length, 16, false)).batch(ids, 16);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.backend().begin(ok, foreign));
      assertFalse(e.getMessage().isBlank());
      StepBatch shortTable = new StepBatch(ok.tokenIds(), ok.positions(), ok.slots(),
          List.of(new StepBatch.Sequence(0, ids.length, ids.length + 16, ok.sequences().get(0).blockTable())));
      e = assertThrows(IllegalArgumentException.class, () -> m.backend().begin(shortTable, kv).close());
      assertTrue(e.getMessage().contains("contextLen " + (ids.length + 16)), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> {
        try (ForwardStep s = m.backend().begin(ok, kv)) {
          s.sample(m.model().forward(s, new int[] {ids.length - 1}), greedy(2));
        }
      });
      assertTrue(e.getMessage().contains("1 rows") && e.getMessage().contains("2"), e.getMessage());
      float[][] next = m.logits(kv, List.of(new Run(blocks(100, ids.length, 16, false))), List.of(ids));
      double rel = Reference.relativeError(next, 0, p.logits());
      assertTrue(rel <= referenceTolerance(m.config()), fixture + " after the errors: " + rel);
    }
  }

  private static List<SamplingRow> greedy(int n) {
    return IntStream.range(0, n).mapToObj(i -> new SamplingRow(0, 0, 1, 0, 0)).toList();
  }

  static Reference.Prompt longest(Reference ref) {
    Reference.Prompt best = ref.prompts().get(0);
    for (Reference.Prompt p : ref.prompts()) {
      best = p.inputIds().length > best.inputIds().length ? p : best;
    }
    return best;
  }

  /** Blocks {@code first..} for {@code tokens} tokens, in order or reversed. */
  static int[] blocks(int first, int tokens, int blockSize, boolean reversed) {
    int n = (tokens + blockSize - 1) / blockSize;
    return IntStream.range(0, n).map(j -> first + (reversed ? n - 1 - j : j)).toArray();
  }

  @Test
  void anFp8KvCacheComputesWhatTheRoundedKeysAndValuesCompute() {
    Map<String, String> fp8 = Map.of(BackendOptions.KV_CACHE_DTYPE, "fp8");
    if (!implementsFp8Kv()) {
      newBackend().close(); // aborts here where the backend cannot run
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> newBackend(fp8).close());
      assertTrue(e.getMessage().startsWith("backend property autoglm.kvCacheDtype is fp8, which the "
          + backendName() + " backend does not "), e.getMessage());
      return;
    }
    try (ComputeBackend rounded = newBackend(fp8); ComputeBackend plain = newBackend()) {
      Fp8KvContract.check(rounded, plain);
    }
  }

  @Test
  void anFp8KvCacheStaysNearTheFixtureReference() {
    if (implementsFp8Kv()) { // else the backend refuses it, which the test above checks (no abort: ContractMain
      Fp8KvContract.nearReference(this::load, backendName()); // counts aborted tests as failed)
      Fp8KvContract.decodeStepsMatchOnePrefill(this::load, layoutTolerance(ModelConfig.load(model("glm4-tiny"))));
    }
  }

  private static Path model(String fixture) {
    return Fixtures.root().resolve("models").resolve(fixture);
  }

  private Loaded load(String fixture) {
    return load(fixture, Map.of());
  }

  Loaded load(String fixture, Map<String, String> properties) {
    Path dir = model(fixture);
    ComputeBackend backend = newBackend(properties);
    try {
      Checkpoint ckpt = Checkpoint.open(dir);
      ModelConfig c = ModelConfig.load(dir);
      return new Loaded(backend, ckpt, c, GlmModel.load(c, ckpt, backend, LoadProgress.none()),
          Reference.load(dir.resolve("reference.safetensors")));
    } catch (RuntimeException | Error e) {
      backend.close();
      throw e;
    }
  }

  /** A sequence with a fixed block table and the number of its tokens in the cache. */
  static final class Run {
    private final int[] blockTable;
    private int cached;

    Run(int[] blockTable) {
      this.blockTable = blockTable;
    }

    int[] blockTable() {
      return blockTable;
    }

    StepBatch batch(int[] tokens, int blockSize) {
      return Loaded.batch(List.of(this), List.of(tokens), blockSize);
    }
  }

  /** A fixture's model on a new backend, with transformers' reference; closes the backend. */
  record Loaded(ComputeBackend backend, Checkpoint ckpt, ModelConfig config, GlmModel model, Reference reference)
      implements AutoCloseable {
    KvCache kv(int blockSize, int blocks) {
      return backend.allocateKv(new KvLayout(config.numLayers(), blocks, blockSize, config.numKvHeads(),
          config.headDim()));
    }

    /** One step of {@code tokens[i]} appended to run i; every row's logits. */
    float[][] logits(KvCache kv, List<Run> runs, List<int[]> tokens) {
      StepBatch b = batch(runs, tokens, kv.layout().blockSizeTokens());
      float[][] out;
      try (ForwardStep s = backend.begin(b, kv)) {
        out = s.toHost(model.forward(s, IntStream.range(0, b.numTokens()).toArray()));
      }
      for (int i = 0; i < runs.size(); i++) {
        runs.get(i).cached += tokens.get(i).length;
      }
      return out;
    }

    static StepBatch batch(List<Run> runs, List<int[]> tokens, int blockSize) {
      int total = tokens.stream().mapToInt(t -> t.length).sum();
      int[] ids = new int[total];
      int[] pos = new int[total];
      int[] slots = new int[total];
      List<StepBatch.Sequence> seqs = new ArrayList<>();
      int at = 0;
      for (int i = 0; i < runs.size(); i++) {
        Run r = runs.get(i);
        int[] t = tokens.get(i);
        for (int j = 0; j < t.length; j++) {
          int p = r.cached + j;
          ids[at + j] = t[j];
          pos[at + j] = p;
          slots[at + j] = r.blockTable[p / blockSize] * blockSize + p % blockSize;
        }
        seqs.add(new StepBatch.Sequence(at, t.length, r.cached + t.length, r.blockTable));
        at += t.length;
      }
      return new StepBatch(ids, pos, slots, seqs);
    }

    @Override
    public void close() {
      try {
        backend.close();
      } finally {
        ckpt.close();
      }
    }
  }
}
