package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.autoglm.FinishReason;
import io.autoglm.GenerationHandle;
import io.autoglm.TestHandles;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.web.servlet.function.ServerResponse;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every way a stream can end, against a builder that behaves as Spring's does (after a failed write it ignores
 * {@code complete()}): the stream's last frame is [DONE] or an error chunk (or nothing, when the client is gone),
 * nothing is written after it, and the exchange is completed exactly once, by the builder or, after a failed write,
 * through the servlet async context.
 */
class SseRelayTest {
  private final AtomicInteger cancels = new AtomicInteger();
  private final MockHttpServletRequest request = new MockHttpServletRequest("POST", "/v1/chat/completions");
  private final FakeSse sse = new FakeSse();
  private final DisconnectWatcher watcher = new DisconnectWatcher(Duration.ZERO);
  private ExecutorService pool;

  @AfterEach
  void close() {
    watcher.close();
    if (pool != null) {
      pool.shutdownNow();
    }
  }

  private List<GenerationHandle> start(int n, java.util.concurrent.Executor executor) {
    request.setAsyncSupported(true);
    request.startAsync(request, new MockHttpServletResponse());
    List<GenerationHandle> handles = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      handles.add(TestHandles.handle("req-" + i, executor, cancels));
    }
    SseRelay relay = new SseRelay(request, new OpenAiResponses("chatcmpl-1", 0, "m", true, false), handles, "");
    relay.watch(watcher);
    relay.start(sse);
    return handles;
  }

  /** Times the exchange was completed: by the builder, or directly through the async context. */
  private int completions() {
    return sse.completes + (request.isAsyncStarted() ? 0 : 1);
  }

  private static JsonNode json(String data) {
    return JsonMapper.shared().readTree(data.substring(1));
  }

  @Test
  void finishedChoicesEndWithDoneAndCompleteOnce() {
    List<GenerationHandle> h = start(2, Runnable::run);
    TestHandles.token(h.get(0), 0, "Hel");
    TestHandles.token(h.get(1), 0, "Wor");
    TestHandles.token(h.get(0), 1, "lo");
    TestHandles.finish(h.get(0), FinishReason.STOP, 2);
    TestHandles.finish(h.get(1), FinishReason.LENGTH, 1);
    assertThat(sse.data).hasSize(8).last().isEqualTo(" [DONE]");
    assertThat(json(sse.data.get(5)).at("/choices/0/finish_reason").asString()).isEqualTo("stop");
    assertThat(json(sse.data.get(6)).at("/choices/0/finish_reason").asString()).isEqualTo("length");
    assertThat(sse.completes).isEqualTo(1);
    assertThat(sse.writesAfterComplete).isZero();
    assertThat(cancels).hasValue(0);
  }

  /** Whatever the engine's exception, a failure after admission is the server's: 500 server_error, never 400. */
  @Test
  void failedChoiceEndsWithAServerErrorChunkAndCancelsTheOthers() {
    List<GenerationHandle> h = start(2, Runnable::run);
    TestHandles.token(h.get(1), 0, "Hi");
    TestHandles.fail(h.get(0), new IllegalArgumentException("token id 151500 has no text"));
    TestHandles.finish(h.get(1), FinishReason.CANCELLED, 1);
    JsonNode error = json(sse.data.get(sse.data.size() - 1)).get("error");
    assertThat(error.get("type").asString()).isEqualTo("server_error");
    assertThat(error.get("code").asString()).isEqualTo("engine_error");
    assertThat(error.get("message").asString()).contains("151500");
    assertThat(sse.data).doesNotContain(" [DONE]");
    assertThat(sse.completes).isEqualTo(1);
    assertThat(sse.writesAfterComplete).isZero();
    assertThat(cancels.get()).isGreaterThanOrEqualTo(2);
  }

  /** A choice the engine ended alone (finish reason ERROR) ends the stream with its reason, as a server error. */
  @Test
  void choiceThatFailedAloneEndsWithItsErrorAndCancelsTheOthers() {
    List<GenerationHandle> h = start(2, Runnable::run);
    TestHandles.token(h.get(0), 0, "Hi");
    TestHandles.failAlone(h.get(1), "the stop-string matcher threw: boom");
    TestHandles.finish(h.get(0), FinishReason.CANCELLED, 1);
    JsonNode error = json(sse.data.get(sse.data.size() - 1)).get("error");
    assertThat(error.get("type").asString()).isEqualTo("server_error");
    assertThat(error.get("message").asString()).contains("choice 1", "boom");
    assertThat(sse.data).noneMatch(d -> d.contains("\"finish_reason\":\"error\"")).doesNotContain(" [DONE]");
    assertThat(sse.completes).isEqualTo(1);
    assertThat(cancels.get()).isGreaterThanOrEqualTo(2);
  }

  /** Spring's builder ignores complete() after a failed write: the relay completes the async context itself. */
  @Test
  void failedWriteCancelsAndCompletesTheExchange() {
    sse.failAtWrite = 2; // the role chunk goes out, the first text chunk fails
    List<GenerationHandle> h = start(1, Runnable::run);
    TestHandles.token(h.get(0), 0, "Hi");
    TestHandles.token(h.get(0), 1, " there");
    TestHandles.finish(h.get(0), FinishReason.CANCELLED, 2);
    assertThat(sse.data).hasSize(1);
    assertThat(cancels).hasValue(1);
    assertThat(request.isAsyncStarted()).as("async context completed").isFalse();
    assertThat(sse.completes).isZero();
  }

  @Test
  void containerTimeoutEndsWithATimeoutChunk() {
    List<GenerationHandle> h = start(2, Runnable::run);
    sse.onTimeout.run();
    TestHandles.finish(h.get(0), FinishReason.CANCELLED, 0);
    JsonNode error = json(sse.data.get(sse.data.size() - 1)).get("error");
    assertThat(error.get("code").asString()).isEqualTo("timeout");
    assertThat(sse.completes).isEqualTo(1);
    assertThat(cancels).hasValue(2);
  }

  /** The container ended the exchange (it saw an I/O error, or completed it): cancel, write nothing more. */
  @Test
  void containerEndCancelsWithoutWriting() {
    List<GenerationHandle> h = start(1, Runnable::run);
    sse.onError.accept(new IOException("Connection reset by peer"));
    TestHandles.token(h.get(0), 0, "late");
    TestHandles.finish(h.get(0), FinishReason.CANCELLED, 1);
    assertThat(sse.data).hasSize(1);
    assertThat(cancels).hasValue(1);
    assertThat(sse.completes).isZero();
  }

  /** Tokens, results and a container timeout racing on several threads: one end, nothing after it. */
  @Test
  void racingEndsEndOnce() throws Exception {
    pool = Executors.newFixedThreadPool(4);
    for (int round = 0; round < 100; round++) {
      SseRelayTest t = new SseRelayTest();
      t.pool = pool;
      List<GenerationHandle> h = t.start(3, pool);
      CountDownLatch go = new CountDownLatch(1);
      List<Runnable> actors = new ArrayList<>();
      for (GenerationHandle g : h) {
        actors.add(() -> {
          for (int i = 0; i < 20; i++) {
            TestHandles.token(g, i, "x");
          }
          TestHandles.finish(g, FinishReason.LENGTH, 20);
        });
      }
      actors.add(t.sse.onTimeout);
      Collections.shuffle(actors);
      List<java.util.concurrent.Future<?>> done = new ArrayList<>();
      for (Runnable a : actors) {
        done.add(pool.submit(() -> {
          go.await();
          a.run();
          return null;
        }));
      }
      go.countDown();
      for (var f : done) {
        f.get(60, TimeUnit.SECONDS); // a hang guard
      }
      t.awaitQuiet();
      String last = t.sse.data.get(t.sse.data.size() - 1);
      assertThat(last.equals(" [DONE]") || last.contains("\"timeout\"")).as(last).isTrue();
      assertThat(t.sse.completes).isEqualTo(1);
      assertThat(t.sse.writesAfterComplete).isZero();
      assertThat(t.completions()).isEqualTo(1);
    }
  }

  /** Waits (up to 30 s, a hang guard) for the end (the timeout always comes), then a while for any stray write. */
  private void awaitQuiet() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (sse.completes == 0 && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    Thread.sleep(20);
  }

  /** Spring's SSE builder as the relay sees it: data frames, complete() ignored after a failed write. */
  static final class FakeSse implements ServerResponse.SseBuilder {
    final List<String> data = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger writes = new AtomicInteger();
    volatile int completes;
    volatile int writesAfterComplete;
    int failAtWrite = -1;
    boolean sendFailed;
    Runnable onTimeout;
    Consumer<Throwable> onError;
    Runnable onComplete;

    @Override
    public void data(Object object) throws IOException {
      if (writes.incrementAndGet() == failAtWrite || sendFailed) {
        sendFailed = true;
        throw new IOException("Broken pipe");
      }
      if (completes > 0) {
        writesAfterComplete++;
      }
      data.add((String) object);
    }

    @Override
    public void complete() {
      if (!sendFailed) {
        completes++;
      }
    }

    @Override
    public void error(Throwable t) {}

    @Override
    public ServerResponse.SseBuilder onTimeout(Runnable r) {
      onTimeout = r;
      return this;
    }

    @Override
    public ServerResponse.SseBuilder onError(Consumer<Throwable> c) {
      onError = c;
      return this;
    }

    @Override
    public ServerResponse.SseBuilder onComplete(Runnable r) {
      onComplete = r;
      return this;
    }

    @Override
    public void send(Object object) throws IOException {
      data(object);
    }

    @Override
    public void send() {}

    @Override
    public ServerResponse.SseBuilder id(String id) {
      return this;
    }

    @Override
    public ServerResponse.SseBuilder event(String eventName) {
      return this;
    }

    @Override
    public ServerResponse.SseBuilder retry(Duration duration) {
      return this;
    }

    @Override
    public ServerResponse.SseBuilder comment(String comment) {
      return this;
    }
  }
}
