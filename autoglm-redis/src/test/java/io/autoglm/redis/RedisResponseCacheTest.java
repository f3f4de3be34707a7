package io.autoglm.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.spi.ResponseCache;
import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Two caches with their own connections to one real redis-server stand for two app instances. */
@Timeout(value = 2, unit = TimeUnit.MINUTES) // a hang guard, not a speed check
class RedisResponseCacheTest {
  private static final SamplingParams GREEDY = SamplingParams.greedy(8);
  @RegisterExtension final RedisFixture redis = RedisFixture.perTest();

  private RedisResponseCache cache(RedisOptions options) {
    return redis.track(RedisResponseCache.connect(redis.uri(), Duration.ofMinutes(5), options));
  }

  private RedisResponseCache cache() {
    return cache(redis.options());
  }

  private static GenerationResult result(String id, FinishReason reason) {
    return new GenerationResult(id, List.of(5, 6, 7), "five six", reason, new Usage(3, 3, 1));
  }

  @Test
  void aResponseGeneratedOnOneInstanceAnswersTheOtherWithoutTheModel() throws Exception {
    RedisResponseCache a = cache();
    RedisResponseCache b = cache();
    ResponseCache.Key key = ResponseCache.Key.ofTokens("m", List.of(1, 2, 3), GREEDY).orElseThrow();
    AtomicInteger generations = new AtomicInteger();
    GenerationResult first = a.getOrCompute(key, () -> {
      generations.incrementAndGet();
      return CompletableFuture.completedFuture(result("req-1", FinishReason.STOP));
    }).get();
    GenerationResult onB = awaitHit(b, key, generations);
    assertEquals(first, onB); // equal, request id included: the first request's
    assertEquals(1, generations.get());
    assertEquals(1, b.stats().orElseThrow().hitCount());
    // A different prompt, model or parameter is a different entry.
    assertTrue(b.getOrCompute(ResponseCache.Key.ofTokens("m", List.of(1, 2, 4), GREEDY).orElseThrow(),
        () -> CompletableFuture.completedFuture(result("req-2", FinishReason.LENGTH))).get().requestId()
        .equals("req-2"));
    assertTrue(b.getOrCompute(ResponseCache.Key.ofTokens("other", List.of(1, 2, 3), GREEDY).orElseThrow(),
        () -> CompletableFuture.completedFuture(result("req-3", FinishReason.LENGTH))).get().requestId()
        .equals("req-3"));
  }

  /** The write is sent when the generation completes, not waited for: poll until it landed. */
  private static GenerationResult awaitHit(RedisResponseCache cache, ResponseCache.Key key, AtomicInteger generations)
      throws Exception {
    for (int i = 0; i < 200; i++) {
      GenerationResult r = cache.getOrCompute(key, // a miss fails, so it is neither kept nor counted as the model
          () -> CompletableFuture.failedFuture(new IllegalStateException("miss"))).handle((ok, e) -> ok).get();
      if (r != null) {
        return r;
      }
      RedisServer.sleep(10);
    }
    throw new AssertionError("the write never reached Redis");
  }

  @Test
  void stopIdsInAnyOrderAndToolAnswersRoundTrip() throws Exception {
    RedisResponseCache a = cache();
    RedisResponseCache b = cache();
    SamplingParams p1 = new SamplingParams(8, 0, 0, 1, java.util.OptionalLong.empty(), Set.of(9, 3, 7, 1),
        List.of("stop"), false, Optional.empty());
    SamplingParams p2 = new SamplingParams(8, 0, 0, 1, java.util.OptionalLong.empty(), Set.of(1, 7, 3, 9),
        List.of("stop"), false, Optional.empty());
    ParsedAnswer answer = new ParsedAnswer("", Optional.of("think"),
        List.of(new ToolCall("call_1", "get_weather", "{\"city\":\"Paris\"}")));
    GenerationResult withCalls = new GenerationResult("req-9", List.of(11, 12), "get_weather\n{...}",
        FinishReason.TOOL_CALLS, new Usage(4, 2, 0), Optional.empty(), Optional.of(answer));
    a.getOrCompute(ResponseCache.Key.ofText("m", "chat\u0000hi", p1).orElseThrow(),
        () -> CompletableFuture.completedFuture(withCalls)).get();
    assertEquals(withCalls, ResultCodec.decode(ResultCodec.encode(withCalls)));
    assertEquals(ResultCodec.digest(ResponseCache.Key.ofText("m", "chat\u0000hi", p1).orElseThrow()),
        ResultCodec.digest(ResponseCache.Key.ofText("m", "chat\u0000hi", p2).orElseThrow()));
    GenerationResult got = null;
    for (int i = 0; i < 200 && got == null; i++) {
      got = b.getOrCompute(ResponseCache.Key.ofText("m", "chat\u0000hi", p2).orElseThrow(),
          () -> CompletableFuture.failedFuture(new IllegalStateException("miss"))).handle((r, e) -> r).get();
      RedisServer.sleep(10);
    }
    assertEquals(withCalls, got);
  }

  @Test
  void identicalRequestsInFlightOnOneInstanceShareOneGeneration() throws Exception {
    RedisResponseCache a = cache();
    ResponseCache.Key key = ResponseCache.Key.ofTokens("m", List.of(4), GREEDY).orElseThrow();
    CompletableFuture<GenerationResult> running = new CompletableFuture<>();
    AtomicInteger generations = new AtomicInteger();
    CompletableFuture<GenerationResult> f1 = a.getOrCompute(key, () -> {
      generations.incrementAndGet();
      return running;
    });
    CompletableFuture<GenerationResult> f2 = a.getOrCompute(key, () -> {
      generations.incrementAndGet();
      return running;
    });
    f2.cancel(true); // one caller giving up does not stop the other's wait
    running.complete(result("req-1", FinishReason.STOP));
    assertEquals("req-1", f1.get().requestId());
    assertEquals(1, generations.get());
  }

  @Test
  void cancelledTimedOutAndFailedGenerationsAreNotKept() throws Exception {
    RedisResponseCache a = cache();
    RedisResponseCache b = cache();
    for (FinishReason reason : List.of(FinishReason.CANCELLED, FinishReason.TIMEOUT)) {
      ResponseCache.Key key = ResponseCache.Key.ofTokens("m", List.of(reason.ordinal() + 1), GREEDY).orElseThrow();
      a.getOrCompute(key, () -> CompletableFuture.completedFuture(result("req-x", reason))).get();
      RedisServer.sleep(100); // a write would have landed by now; there must be none
      AtomicInteger generations = new AtomicInteger();
      b.getOrCompute(key, () -> {
        generations.incrementAndGet();
        return CompletableFuture.completedFuture(result("req-y", FinishReason.STOP));
      }).get();
      assertEquals(1, generations.get(), reason + " was kept");
    }
    ResponseCache.Key key = ResponseCache.Key.ofTokens("m", List.of(40), GREEDY).orElseThrow();
    CompletableFuture<GenerationResult> failed = a.getOrCompute(key,
        () -> CompletableFuture.failedFuture(new IllegalStateException("boom")));
    ExecutionException e = assertThrows(ExecutionException.class, failed::get);
    assertEquals("boom", e.getCause().getMessage());
    CompletableFuture<GenerationResult> thrown = a.getOrCompute(key, () -> {
      throw new IllegalStateException("thrown");
    });
    assertEquals("thrown", assertThrows(ExecutionException.class, thrown::get).getCause().getMessage());
    assertEquals("req-z", a.getOrCompute(key,
        () -> CompletableFuture.completedFuture(result("req-z", FinishReason.STOP))).get().requestId());
  }

  @Test
  void redisKilledFailOpenGeneratesAndFailClosedRefuses() throws Exception {
    RedisResponseCache open = cache(RedisOptions.defaults());
    RedisResponseCache closed = cache(RedisOptions.defaults().withFailMode(FailMode.CLOSED));
    ResponseCache.Key key = ResponseCache.Key.ofTokens("m", List.of(8), GREEDY).orElseThrow();
    redis.server().stop();
    AtomicInteger generations = new AtomicInteger();
    assertEquals("req-1", open.getOrCompute(key, () -> {
      generations.incrementAndGet();
      return CompletableFuture.completedFuture(result("req-1", FinishReason.STOP));
    }).get().requestId());
    assertEquals(1, generations.get());
    assertEquals(1, open.unavailableCount());
    CompletableFuture<GenerationResult> refused = closed.getOrCompute(key, () -> {
      generations.incrementAndGet();
      return CompletableFuture.completedFuture(result("req-2", FinishReason.STOP));
    });
    ExecutionException e = assertThrows(ExecutionException.class, refused::get);
    assertInstanceOf(RedisUnavailableException.class, e.getCause());
    assertEquals(1, generations.get(), "fail-closed must not run the model");
    assertFalse(closed.stats().isEmpty());
  }
}
