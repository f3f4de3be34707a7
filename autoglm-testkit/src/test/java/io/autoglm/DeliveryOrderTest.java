package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.internal.EngineAccess;
import io.autoglm.testkit.SmallEngine;
import io.autoglm.tokenizer.GlmTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The engine hands tokens to the listeners on a delivery thread that overlaps the next forward pass. Whatever the
 * interleaving, each stream gets its tokens in order exactly once, a request's tokens equal those of the same request
 * run alone (greedy), a stop string ends a request at exactly the token whose text completes it, and cancellations
 * at random times leave the KV cache idle. References: runs alone, one at a time, and the tokenizer's decode. The
 * first two run with metrics that make delivery lag the forward passes, so a listener's stop arrives late.
 */
class DeliveryOrderTest {
  private static final int REQUESTS = 24;

  /** Records a stream's events; cancels its subscription after {@code cancelAfter} tokens (-1: never). */
  private static final class Recorder implements Flow.Subscriber<TokenEvent> {
    final ConcurrentLinkedQueue<TokenEvent> events = new ConcurrentLinkedQueue<>();
    final int cancelAfter;
    private Flow.Subscription subscription;
    private int tokens;

    Recorder(int cancelAfter) {
      this.cancelAfter = cancelAfter;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(TokenEvent e) {
      events.add(e);
      if (e.tokenId().isPresent() && ++tokens == cancelAfter) {
        subscription.cancel();
      }
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onComplete() {}

    List<Integer> tokenIds() {
      return events.stream().filter(e -> e.tokenId().isPresent()).map(e -> e.tokenId().getAsInt()).toList();
    }

    /** Token events carry indices 0, 1, 2, … in order, each once. */
    void assertInOrderOnce(String what) {
      int next = 0;
      for (TokenEvent e : events) {
        if (e.tokenId().isPresent()) {
          assertEquals(next++, e.index(), what + ": token events " + events);
        }
      }
    }

    String text() {
      StringBuilder b = new StringBuilder();
      events.forEach(e -> b.append(e.text()));
      return b.toString();
    }
  }

  /** Metrics that take a while per token: delivery then lags the forward passes, as a busy host's would. */
  private static final class SlowMetrics implements io.autoglm.spi.EngineMetrics {
    @Override
    public void onInterTokenLatency(String operationName, long nanos) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** SmallEngine's model, with delivery slower than the forward pass. */
  private static AutoGLM slowDelivery(String id) {
    return AutoGLM.builder().modelPath(SmallEngine.checkpoint())
        .tokenizerPath(SmallEngine.fixtures().resolve("tokenizers/glm-4-9b-chat-hf")).modelId(id).kvBlocks(256)
        .metrics(new SlowMetrics()).build();
  }

  private static String prompt(int i) {
    return "request " + i + " says" + " hello".repeat(i % 5);
  }

  private static SamplingParams greedy(int maxNewTokens, List<String> stop) {
    return SamplingParams.builder().maxNewTokens(maxNewTokens).ignoreEos(true).stop(stop).build();
  }

  private static List<GenerationResult> alone(AutoGLM glm, int n, int maxNewTokens) {
    List<GenerationResult> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(glm.submit(TextRequest.completion(prompt(i), greedy(maxNewTokens, List.of()))).result().join());
    }
    return out;
  }

  @Test
  void concurrentStreamsGetTheirTokensInOrderOnceAndEqualRunsAlone() throws Exception {
    try (AutoGLM glm = slowDelivery("delivery")) {
      List<GenerationResult> ref = alone(glm, REQUESTS, 24);
      List<GenerationHandle> handles = new ArrayList<>();
      List<Recorder> recorders = new ArrayList<>();
      for (int i = 0; i < REQUESTS; i++) {
        GenerationHandle h = glm.submit(TextRequest.completion(prompt(i), greedy(24, List.of())));
        Recorder r = new Recorder(-1);
        h.tokens().subscribe(r);
        handles.add(h);
        recorders.add(r);
      }
      for (int i = 0; i < REQUESTS; i++) {
        GenerationResult got = handles.get(i).result().get(1, TimeUnit.MINUTES);
        assertEquals(ref.get(i).tokenIds(), got.tokenIds(), "request " + i + " vs alone");
        assertEquals(ref.get(i).text(), got.text(), "request " + i + " text vs alone");
      }
      for (int i = 0; i < REQUESTS; i++) {
        Recorder r = recorders.get(i);
        int index = i;
        SmallEngine.await(() -> r.tokenIds().size() == ref.get(index).tokenIds().size());
        r.assertInOrderOnce("request " + i);
        assertEquals(ref.get(i).tokenIds(), r.tokenIds(), "request " + i + " streamed ids");
        SmallEngine.await(() -> r.text().equals(ref.get(index).text()));
      }
      SmallEngine.awaitIdle(glm, 0.0);
    }
  }

  @Test
  void aStopStringEndsTheRequestAtTheTokenThatCompletesIt() throws Exception {
    try (AutoGLM glm = slowDelivery("delivery-stop")) {
      GlmTokenizer tok = EngineAccess.get().tokenizer(glm);
      List<GenerationResult> ref = alone(glm, REQUESTS, 32);
      List<String> stops = new ArrayList<>();
      List<GenerationHandle> handles = new ArrayList<>();
      for (int i = 0; i < REQUESTS; i++) {
        String text = ref.get(i).text();
        assertTrue(text.length() >= 8, "request " + i + " made enough text for a stop string: " + text);
        int at = text.length() / 2 + i % 3;
        String stop = text.substring(at, at + 2);
        stops.add(stop);
        handles.add(glm.submit(TextRequest.completion(prompt(i), greedy(32, List.of(stop)))));
      }
      for (int i = 0; i < REQUESTS; i++) {
        GenerationResult got = handles.get(i).result().get(1, TimeUnit.MINUTES);
        String full = ref.get(i).text();
        String stop = stops.get(i);
        assertEquals(full.substring(0, full.indexOf(stop)), got.text(), "request " + i + ", stop " + stop);
        assertEquals(FinishReason.STOP, got.finishReason(), "request " + i);
        List<Integer> all = ref.get(i).tokenIds();
        int k = 1;
        while (!tok.decode(all.subList(0, k).stream().mapToInt(Integer::intValue).toArray(), true).contains(stop)) {
          k++;
        }
        assertEquals(all.subList(0, k), got.tokenIds(), "request " + i + ": ends at the token completing " + stop);
      }
      SmallEngine.awaitIdle(glm, 0.0);
    }
  }

  @Test
  void cancellationsAtRandomTimesFreeEveryBlockAndStreamsStayPrefixes() throws Exception {
    try (AutoGLM glm = SmallEngine.start("delivery-cancel")) {
      List<GenerationResult> ref = alone(glm, REQUESTS, 40);
      Random random = new Random(5);
      for (int round = 0; round < 3; round++) {
        List<GenerationHandle> handles = new ArrayList<>();
        List<Recorder> recorders = new ArrayList<>();
        for (int i = 0; i < REQUESTS; i++) {
          GenerationHandle h = glm.submit(TextRequest.completion(prompt(i), greedy(40, List.of())));
          Recorder r = new Recorder(random.nextInt(3) == 0 ? 1 + random.nextInt(30) : -1);
          h.tokens().subscribe(r);
          if (random.nextInt(4) == 0) {
            Thread.sleep(random.nextInt(3));
            h.cancel();
          }
          handles.add(h);
          recorders.add(r);
        }
        for (int i = 0; i < REQUESTS; i++) {
          GenerationResult got = handles.get(i).result().handle((r, e) -> r).get(1, TimeUnit.MINUTES);
          List<Integer> want = ref.get(i).tokenIds();
          Recorder r = recorders.get(i);
          r.assertInOrderOnce("round " + round + " request " + i);
          List<Integer> streamed = r.tokenIds();
          assertEquals(want.subList(0, streamed.size()), streamed, "round " + round + " request " + i);
          if (got != null && got.finishReason() == FinishReason.LENGTH) {
            assertEquals(want, got.tokenIds(), "round " + round + " request " + i + " ran to its end");
          } else if (got != null) {
            assertEquals(FinishReason.CANCELLED, got.finishReason());
            assertEquals(want.subList(0, got.tokenIds().size()), got.tokenIds());
          }
        }
        EngineStats idle = SmallEngine.awaitIdle(glm, 0.0);
        assertTrue(idle.steps() > 0);
      }
    }
  }
}
