package io.autoglm.spring;

import io.autoglm.testing.TcpStates;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.autoglm.AutoGLM;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A client that hangs up while nothing is written to it (a non-streamed request generating, a stream still queued)
 * cancels its request within two disconnect checks, its KV blocks are freed, and the server closes its side of the
 * connection (no CLOSE-WAIT socket is left). One running sequence at most, so a second request waits in the queue.
 * The waits are bounded at 10 s (not two checks' 400 ms) so a loaded CI host does not fail them; that the hang-up
 * did it is proven by the request's finish reason (cancelled), and the time is printed.
 */
@SpringBootTest(classes = TestApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"autoglm.max-running-sequences=1", "autoglm.server.disconnect-check-interval=200ms"})
class DisconnectTest {
  private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    TestModel.register(registry);
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;
  @Autowired MeterRegistry meters;
  AutoGLM glm;

  /** Requests that ended with finish reason cancelled, so far. */
  private double cancelled() {
    var c = meters.find("autoglm.requests.finished").tag("gen_ai.response.finish_reasons", "cancelled").counter();
    return c == null ? 0 : c.count();
  }

  @BeforeEach
  void ready() {
    glm = provider.await(Duration.ofMinutes(2));
  }

  @AfterEach
  void idle() {
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> { // a hang guard between tests
      assertThat(glm.stats().running() + glm.stats().waiting()).isZero();
      assertThat(glm.stats().kvUsage()).isZero();
    });
  }

  private static byte[] longRequest(boolean stream) {
    return RawStream.longChat(1900).replace("\"stream\":true", "\"stream\":" + stream)
        .getBytes(StandardCharsets.UTF_8);
  }

  private RawHttp post(byte[] body) throws Exception {
    RawHttp http = new RawHttp(port);
    return http.send("POST", "/v1/chat/completions", Map.of("Content-Type", "application/json",
        "Content-Length", Integer.toString(body.length)), body);
  }

  @Test
  void nonStreamedRequestIsCancelledWhenItsClientHangsUp() throws Exception {
    double cancelledBefore = cancelled();
    RawHttp http = post(longRequest(false));
    await().atMost(Duration.ofSeconds(30)).until(() -> glm.stats().running() == 1);
    Thread.sleep(300);
    assertThat(glm.stats().running()).as("still generating while the client waits").isEqualTo(1);
    long closed = System.nanoTime();
    http.close();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).untilAsserted(() -> {
      assertThat(glm.stats().running()).isZero();
      assertThat(glm.stats().kvUsage()).isZero();
    });
    System.out.printf("non-streamed request cancelled %.0f ms after its client hung up%n",
        (System.nanoTime() - closed) / 1e6);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(cancelled())
        .as("the hang-up cancelled the request (it did not run to its end)").isEqualTo(cancelledBefore + 1));
    await().atMost(Duration.ofSeconds(10)).until(() -> TcpStates.count(port, TcpStates.CLOSE_WAIT) == 0);
  }

  /** The second stream waits behind the first: only its role chunk went out, so no write notices the hang-up. */
  @Test
  void queuedStreamIsCancelledWhenItsClientHangsUp() throws Exception {
    try (RawStream running = new RawStream(port, null, RawStream.longChat(1900))) {
      assertThat(running.readChunks(2)).isEqualTo(2);
      double cancelledBefore = cancelled();
      RawHttp queued = post(longRequest(true));
      await().atMost(Duration.ofSeconds(30)).until(() -> glm.stats().waiting() == 1);
      queued.close();
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
          .until(() -> glm.stats().waiting() == 0);
      assertThat(glm.stats().running()).as("the first stream goes on").isEqualTo(1);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(cancelled())
          .as("the hang-up cancelled the queued stream (it was not admitted)").isEqualTo(cancelledBefore + 1));
      await().atMost(Duration.ofSeconds(10)).until(() -> TcpStates.count(port, TcpStates.CLOSE_WAIT) == 0);
    }
  }

  /** A client that keeps its connection open is never taken for gone, however long it waits. */
  @Test
  void waitingClientIsNotTakenForGone() throws Exception {
    byte[] body = RawStream.longChat(60).replace("\"stream\":true", "\"stream\":false")
        .getBytes(StandardCharsets.UTF_8);
    try (RawHttp http = post(body)) {
      RawHttp.Response r = http.read();
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.body()).contains("\"completion_tokens\":60", "\"finish_reason\":\"length\"");
    }
  }
}
