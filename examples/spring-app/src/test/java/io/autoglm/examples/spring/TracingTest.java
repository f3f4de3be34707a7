package io.autoglm.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.autoglm.spring.AutoGLMProvider;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The sample app's OpenTelemetry wiring, with an in-memory exporter in place of OTLP: a request that sends a W3C
 * {@code traceparent} gets its trace id back in the {@code traceparent} response header, the spans the app exports
 * (HTTP server, autoglm.request, autoglm.queue, autoglm.prefill, autoglm.decode) belong to that trace and nest, and
 * the request's log lines carry the trace id in the MDC, also the one logged on another thread when it ends.
 */
@SpringBootTest(classes = {GlmServerApplication.class, TracingTest.Exporter.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"management.tracing.sampling.probability=1.0", "logging.level.io.autoglm.spring.requests=DEBUG"})
class TracingTest {
  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String PARENT_SPAN = "00f067aa0ba902b7";

  @TempDir static Path dir;

  @TestConfiguration
  static class Exporter {
    @Bean
    InMemorySpanExporter inMemorySpanExporter() {
      return InMemorySpanExporter.create();
    }
  }

  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    GlmServerApplicationTest.writeModel(dir, registry);
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;
  @Autowired InMemorySpanExporter spans;

  @Test
  void theCallersTraceIdComesBackAndIsOnEverySpanAndLogLine() throws Exception {
    provider.await(Duration.ofMinutes(2));
    Logger requests = (Logger) LoggerFactory.getLogger("io.autoglm.spring.requests");
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    requests.addAppender(logs);
    Level level = requests.getLevel();
    requests.setLevel(Level.DEBUG);
    try {
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://localhost:" + port + "/v1/chat/completions"))
          .header("Content-Type", "application/json")
          .header("traceparent", "00-" + TRACE_ID + "-" + PARENT_SPAN + "-01")
          .POST(HttpRequest.BodyPublishers.ofString("{\"max_tokens\":4,\"temperature\":0,\"stream\":true,"
              + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      String traceparent = r.headers().firstValue("traceparent").orElseThrow();
      assertThat(traceparent).matches("00-" + TRACE_ID + "-[0-9a-f]{16}-01");
      String serverSpan = traceparent.split("-")[2];
      assertThat(serverSpan).isNotEqualTo(PARENT_SPAN);

      Map<String, SpanData> byName = awaitSpans(Set.of("autoglm.request", "autoglm.queue", "autoglm.prefill",
          "autoglm.decode"));
      assertThat(byName.values()).allSatisfy(s -> assertThat(s.getTraceId()).isEqualTo(TRACE_ID));
      SpanData request = byName.get("autoglm.request");
      assertThat(request.getParentSpanId()).isEqualTo(serverSpan);
      SpanData server = awaitSpan(serverSpan); // it may end, and be exported, in a later batch than autoglm's
      assertThat(server.getParentSpanId()).isEqualTo(PARENT_SPAN);
      for (String phase : List.of("autoglm.queue", "autoglm.prefill", "autoglm.decode")) {
        assertThat(byName.get(phase).getParentSpanId()).as(phase).isEqualTo(request.getSpanId());
      }
      assertThat(byName.get("autoglm.queue").getEndEpochNanos())
          .isLessThanOrEqualTo(byName.get("autoglm.decode").getStartEpochNanos());

      awaitLog(logs, "finished");
      List<ILoggingEvent> mine = events(logs).stream()
          .filter(e -> TRACE_ID.equals(e.getMDCPropertyMap().get("traceId"))).toList();
      assertThat(mine).extracting(ILoggingEvent::getFormattedMessage)
          .anyMatch(m -> m.startsWith("submitted")).anyMatch(m -> m.startsWith("finished"));
    } finally {
      requests.detachAppender(logs);
      requests.setLevel(level); // no DEBUG level left behind for the tests after this one
    }
  }

  /** The finished span with this id, once exported (the batch span processor exports every few seconds). */
  private SpanData awaitSpan(String spanId) throws InterruptedException {
    for (long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        System.nanoTime() < deadline; ) {
      java.util.Optional<SpanData> span = spans.getFinishedSpanItems().stream()
          .filter(s -> s.getSpanId().equals(spanId)).findFirst();
      if (span.isPresent()) {
        return span.get();
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no span " + spanId + " exported: " + spans.getFinishedSpanItems().stream()
        .map(SpanData::getName).toList());
  }

  /**
   * A copy of the appender's events, taken under its lock: {@link ListAppender} appends to a plain list from the
   * logging threads (under the appender's monitor), so iterating it unlocked while a line arrives may throw.
   */
  private static List<ILoggingEvent> events(ListAppender<ILoggingEvent> logs) {
    synchronized (logs) {
      return List.copyOf(logs.list);
    }
  }

  private Map<String, SpanData> awaitSpans(Set<String> names) throws InterruptedException {
    for (int i = 0; i < 300; i++) { // the batch span processor exports every few seconds
      Map<String, SpanData> byName = spans.getFinishedSpanItems().stream().filter(s -> names.contains(s.getName()))
          .collect(Collectors.toMap(SpanData::getName, s -> s, (a, b) -> a));
      if (byName.keySet().containsAll(names)) {
        return byName;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("spans exported: " + spans.getFinishedSpanItems().stream().map(SpanData::getName)
        .toList());
  }

  private static void awaitLog(ListAppender<ILoggingEvent> logs, String prefix) throws InterruptedException {
    for (long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        System.nanoTime() < deadline; ) {
      if (events(logs).stream().anyMatch(e -> e.getFormattedMessage().startsWith(prefix))) {
        return;
      }
      Thread.sleep(10);
    }
    throw new AssertionError("no '" + prefix + "' line in " + events(logs));
  }
}
