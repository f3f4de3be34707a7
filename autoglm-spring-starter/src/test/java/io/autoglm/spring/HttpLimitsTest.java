package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The input boundary over raw HTTP: bodies over the limit (announced or chunked) are a 413 long before they are
 * read; non-JSON bodies a 415; every unknown path a 404 and every wrong method a 405, in and outside /v1, in OpenAI's
 * error shape; an over-long prompt a 400 {@code context_length_exceeded}; and a chat without max_tokens stops at
 * {@code default-max-tokens}. The body limit is the default (4 MB).
 */
@SpringBootTest(classes = TestApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"autoglm.server.default-max-tokens=5", "management.endpoints.web.exposure.include=health"})
class HttpLimitsTest {
  private static final int MIB = 1 << 20;
  private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    TestModel.register(registry);
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;

  @BeforeEach
  void ready() {
    provider.await(Duration.ofMinutes(2));
  }

  /** {"error": {message, type, param, code}} with the given status, type and code. */
  private static JsonNode assertError(RawHttp.Response r, int status, String type, String code) {
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().get("content-type")).startsWith("application/json");
    JsonNode error = JsonMapper.shared().readTree(r.body()).get("error");
    assertThat(error.propertyNames()).containsExactly("message", "type", "param", "code");
    assertThat(error.get("type").asString()).isEqualTo(type);
    assertThat(error.get("code").isNull() ? null : error.get("code").asString()).isEqualTo(code);
    return error;
  }

  /**
   * Announces a 64 MiB body and sends it behind the headers; the 413 comes back before a fraction of it is sent.
   * "Before it is read" is checked in bytes, not seconds (a loaded CI host can take a second for anything): when the
   * response has arrived, the sender has offered the server less than half the body, which it could not have done
   * had the server read the body before answering.
   */
  @Test
  void announcedBodyOverTheLimitIs413BeforeItIsRead() throws Exception {
    try (RawHttp http = new RawHttp(port)) {
      long start = System.nanoTime();
      http.send("POST", "/v1/chat/completions", Map.of("Content-Type", "application/json",
          "Content-Length", Integer.toString(64 * MIB)), new byte[0]);
      Sender sender = sendInBackground(http, 64 * MIB, false);
      RawHttp.Response r = http.read();
      long offered = sender.offered.get();
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf("413 for an announced 64 MiB body after %.3f s, %.1f MiB offered%n", seconds,
          offered / (double) MIB);
      JsonNode error = assertError(r, 413, "invalid_request_error", "request_too_large");
      assertThat(error.get("message").asString()).contains(Integer.toString(64 * MIB), Integer.toString(4 * MIB));
      assertThat(r.headers().get("connection")).isEqualTo("close");
      assertThat(offered).as("bytes of the body sent before the 413 arrived").isLessThan(32L * MIB);
      sender.thread.interrupt();
    }
  }

  /**
   * A chunked body announces no length: it is counted while read and refused once past the limit, before its end
   * (in bytes offered when the 413 arrived, as above).
   */
  @Test
  void chunkedBodyOverTheLimitIs413BeforeItsEnd() throws Exception {
    try (RawHttp http = new RawHttp(port)) {
      long start = System.nanoTime();
      http.send("POST", "/v1/chat/completions", Map.of("Content-Type", "application/json",
          "Transfer-Encoding", "chunked"), new byte[0]);
      Sender sender = sendInBackground(http, 64 * MIB, true);
      RawHttp.Response r = http.read();
      long offered = sender.offered.get();
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf("413 for a chunked 64 MiB body after %.3f s, %.1f MiB offered%n", seconds,
          offered / (double) MIB);
      assertError(r, 413, "invalid_request_error", "request_too_large");
      // The server reads 4 MiB here before it refuses, and the socket buffers on both sides may hold several more
      // (about 12 MiB offered on a Linux loopback whose receive buffers may grow to 32 MiB): the bound is the body's
      // end, which a server that read the body out before answering would have had to receive.
      assertThat(offered).as("bytes of the body sent before the 413 arrived").isLessThan(64L * MIB);
      sender.thread.interrupt();
    }
  }

  /** The background sender and the bytes it has offered so far (counted before each write: an upper bound). */
  private record Sender(Thread thread, AtomicLong offered) {}

  /** Writes {@code bytes} of JSON-ish filler (chunked or not) until done or the server closes the connection. */
  private static Sender sendInBackground(RawHttp http, int bytes, boolean chunked) {
    AtomicLong offered = new AtomicLong();
    Thread t = new Thread(() -> {
      byte[] block = new byte[64 * 1024];
      Arrays.fill(block, (byte) ' ');
      try {
        OutputStream out = http.socket.getOutputStream();
        for (int sent = 0; sent < bytes && !Thread.currentThread().isInterrupted(); sent += block.length) {
          offered.addAndGet(block.length);
          if (chunked) {
            out.write((Integer.toHexString(block.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
          }
          out.write(block);
          if (chunked) {
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
          }
        }
      } catch (IOException e) {
        // the server refused the rest: expected
      }
    }, "body-sender");
    t.setDaemon(true);
    t.start();
    return new Sender(t, offered);
  }

  @Test
  void bodyJustUnderTheLimitIsRead() throws Exception {
    String filler = " ".repeat(4 * MIB - 200);
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1" + filler + "}";
    RawHttp.Response r = RawHttp.exchange(port, "POST", "/v1/chat/completions", JSON, body);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
  }

  @Test
  void nonJsonContentTypeIs415() throws Exception {
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    for (String type : new String[] {"application/x-www-form-urlencoded", "text/plain", "multipart/form-data"}) {
      RawHttp.Response r = RawHttp.exchange(port, "POST", "/v1/chat/completions", Map.of("Content-Type", type), body);
      JsonNode error = assertError(r, 415, "invalid_request_error", "unsupported_media_type");
      assertThat(error.get("message").asString()).contains(type);
    }
    RawHttp.Response ok = RawHttp.exchange(port, "POST", "/v1/chat/completions",
        Map.of("Content-Type", "application/json; charset=utf-8"), body.replace("}]}", "}],\"max_tokens\":1}"));
    assertThat(ok.status()).as(ok.body()).isEqualTo(200);
  }

  @Test
  void unknownPathsAre404AndWrongMethods405InOpenAisShape() throws Exception {
    for (String path : new String[] {"/v1/embeddings", "/v1", "/nothing/here", "/actuator/nothing"}) {
      JsonNode error = assertError(RawHttp.exchange(port, "GET", path, Map.of(), ""), 404, "invalid_request_error",
          "not_found");
      assertThat(error.get("message").asString()).isEqualTo("Invalid URL (GET " + path + ")");
    }
    RawHttp.Response get = RawHttp.exchange(port, "GET", "/v1/chat/completions", Map.of(), "");
    assertError(get, 405, "invalid_request_error", "method_not_allowed");
    assertThat(get.headers().get("allow")).isEqualTo("POST");
    RawHttp.Response delete = RawHttp.exchange(port, "DELETE", "/v1/models", Map.of(), "");
    assertError(delete, 405, "invalid_request_error", "method_not_allowed");
    assertThat(delete.headers().get("allow")).isEqualTo("GET, HEAD");
    try (RawHttp http = new RawHttp(port)) {
      RawHttp.Response head = http.send("HEAD", "/v1/models", Map.of(), new byte[0]).readHead();
      assertThat(head.status()).isEqualTo(200);
    }
    RawHttp.Response outside = RawHttp.exchange(port, "POST", "/actuator/health", JSON, "{}");
    assertError(outside, 405, "invalid_request_error", "method_not_allowed");
    assertThat(outside.headers().get("allow")).contains("GET");
  }

  /** The test model holds 2048 positions; a prompt of more tokens names its field and OpenAI's code. */
  @Test
  void overLongPromptIsContextLengthExceeded() throws Exception {
    String words = "hello ".repeat(3000);
    JsonNode chat = assertError(RawHttp.exchange(port, "POST", "/v1/chat/completions", JSON,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}]}"), 400, "invalid_request_error",
        "context_length_exceeded");
    assertThat(chat.get("param").asString()).isEqualTo("messages");
    assertThat(chat.get("message").asString()).contains("2048");
    JsonNode completion = assertError(RawHttp.exchange(port, "POST", "/v1/completions", JSON,
        "{\"prompt\":\"" + words + "\"}"), 400, "invalid_request_error", "context_length_exceeded");
    assertThat(completion.get("param").asString()).isEqualTo("prompt");
  }

  /**
   * The largest prompt the body limit lets through: its byte count alone proves it too long for the test model's
   * 2048 positions (the longest GLM-4 token is 512 bytes), so core refuses it before tokenizing; the time is printed
   * for docs/spring.md, with that of a prompt just under the byte bound, which is tokenized.
   */
  @Test
  void promptsTooLongForTheContextAreContextLengthExceeded() throws Exception {
    for (int bytes : new int[] {4 * MIB - 100, 2047 * 512 - 100}) {
      String words = "The sea was calm that night. ".repeat(bytes / 29);
      for (String path : new String[] {"/v1/completions", "/v1/chat/completions"}) {
        String body = path.endsWith("chat/completions")
            ? "{\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}]}"
            : "{\"prompt\":\"" + words + "\"}";
        long start = System.nanoTime();
        RawHttp.Response r = RawHttp.exchange(port, "POST", path, JSON, body);
        System.out.printf("%s: a %.2f MB prompt refused as too long after %.2f s%n", path, body.length() / 1e6,
            (System.nanoTime() - start) / 1e9);
        assertError(r, 400, "invalid_request_error", "context_length_exceeded");
      }
    }
  }

  @Test
  void chatWithoutMaxTokensStopsAtTheDefault() throws Exception {
    RawHttp.Response r = RawHttp.exchange(port, "POST", "/v1/chat/completions", JSON,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],\"ignore_eos\":true}");
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    JsonNode answer = JsonMapper.shared().readTree(r.body());
    assertThat(answer.at("/usage/completion_tokens").asInt()).isEqualTo(5);
    assertThat(answer.at("/choices/0/finish_reason").asString()).isEqualTo("length");
  }
}
