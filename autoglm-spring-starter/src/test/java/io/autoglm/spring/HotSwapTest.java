package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.autoglm.AutoGLM;
import io.autoglm.GenerationRequest;
import io.autoglm.SamplingParams;
import io.autoglm.testkit.RandomCheckpoint;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Hot swap over real HTTP: 40 clients (half streaming) keep requesting while {@code POST /actuator/autoglm} swaps
 * the served checkpoint for another. No request fails; /v1/models and health list both instances while the new one
 * loads; requests after the switch are answered by the new model id; the old instance is closed and the native
 * memory DJL holds returns to the one-model level. A swap to a broken checkpoint leaves the old model serving.
 */
@SpringBootTest(classes = {TestApplication.class, HotSwapTest.Gate.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "autoglm.api-keys=key-a",
      "autoglm.kv-blocks=512",
      "management.endpoints.web.exposure.include=health,autoglm",
      "management.endpoint.health.show-details=always",
    })
@Timeout(value = 5, unit = TimeUnit.MINUTES) // a hang guard, not a speed check
class HotSwapTest {
  private static final String KEY = "Bearer key-a";
  private static final Pattern MODEL = Pattern.compile("\"model\":\"([^\"]+)\"");
  /** While closed, a load the starter's factory starts waits here (so the test sees it LOADING). */
  static volatile CountDownLatch gate = new CountDownLatch(0);

  @TestConfiguration
  static class Gate {
    @Bean
    AutoGLMBuilderCustomizer waitAtTheGate() {
      return b -> {
        try {
          gate.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      };
    }
  }

  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    TestModel.register(registry);
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /** A second random checkpoint of the same shape (another seed), so memory with one of either is the same. */
  static synchronized Path secondCheckpoint() throws Exception {
    Path dir = Path.of("target/test-models/glm4-random-2l-seed8").toAbsolutePath();
    if (!Files.isRegularFile(dir.resolve("config.json"))) {
      Path tmp = Files.createDirectories(dir.getParent()).resolve("tmp-b-" + ProcessHandle.current().pid());
      RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
          "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16",
          "max_position_embeddings", "2048"), 1L << 30, 8).write(tmp, s -> {});
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    }
    return dir;
  }

  /** Bytes of every NDArray DJL's engine holds now (weights and KV caches of every open model). */
  static long nativeArrayBytes() {
    try (NDManager probe = NDManager.newBaseManager(Device.cpu())) {
      long bytes = 0;
      for (NDArray a : probe.getParentManager().getManagedArrays()) {
        bytes += a.getShape().size() * a.getDataType().getNumOfBytes();
      }
      return bytes;
    }
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).header("Authorization", KEY)
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> swap(String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/autoglm"))
        .header("Authorization", KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** One chat completion; returns the model id that answered, or throws with what went wrong. */
  private String chat(boolean stream, int i) throws Exception {
    String body = "{\"model\":\"" + TestModel.ID + "\",\"max_tokens\":6,\"temperature\":0,\"stream\":" + stream
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello " + i + "\"}]}";
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/chat/completions"))
        .header("Authorization", KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    String text;
    try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      text = String.join("\n", in.lines().toList());
    }
    if (r.statusCode() != 200) {
      throw new AssertionError("status " + r.statusCode() + ": " + text);
    }
    if (stream && !text.strip().endsWith("data: [DONE]")) {
      throw new AssertionError("stream did not end with [DONE]: " + text);
    }
    Matcher m = MODEL.matcher(text);
    if (!m.find()) {
      throw new AssertionError("no model in " + text);
    }
    return m.group(1);
  }

  @Test
  void swapUnderLoadFailsNoRequestAndFreesTheOldModel() throws Exception {
    AutoGLM old = provider.await(Duration.ofMinutes(2));
    // engines of other test classes' cached contexts may share the name: count this one's thread as one of them
    long oldThreads = engineThreads("autoglm-engine-glm-test");
    Path next = secondCheckpoint();
    chat(false, -1); // warm
    long oneModel = nativeArrayBytes();
    assertThat(oneModel).isPositive();

    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean switched = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger afterSwitch = new AtomicInteger();
    Queue<String> failures = new ConcurrentLinkedQueue<>();
    Set<String> modelsAfterSwitch = ConcurrentHashMap.newKeySet();
    int clients = 40;
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    for (int c = 0; c < clients; c++) {
      int client = c;
      pool.submit(() -> {
        for (int i = 0; !stop.get(); i++) {
          boolean after = switched.get(); // read before sending: the answer must then come from the new model
          try {
            String model = chat(client % 2 == 0, client * 100_000 + i);
            ok.incrementAndGet();
            if (after) {
              modelsAfterSwitch.add(model);
              afterSwitch.incrementAndGet();
            }
          } catch (Throwable t) {
            failures.add(t.toString());
          }
        }
      });
    }
    awaitCount(ok, 80);

    gate = new CountDownLatch(1);
    HttpResponse<String> started = swap("{\"modelPath\":\"" + next + "\",\"modelId\":\"glm-test-v2\"}");
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    // Loading: both in /v1/models and in health; a second swap meanwhile is refused.
    String models = get("/v1/models").body();
    assertThat(models).contains("\"id\":\"glm-test\"", "\"id\":\"glm-test-v2\"", "\"status\":\"loading\"",
        "\"status\":\"serving\"");
    String health = get("/actuator/health").body();
    assertThat(health).contains("\"status\":\"UP\"", "\"id\":\"glm-test-v2\"", "\"state\":\"LOADING\"",
        "\"state\":\"SERVING\"");
    assertThat(swap("{\"modelPath\":\"" + next + "\"}").statusCode()).isEqualTo(409);
    int beforeOpen = ok.get();
    awaitCount(ok, beforeOpen + 40); // the old model keeps answering while the new one loads
    gate.countDown();

    awaitTrue(() -> provider.get().map(g -> g.modelId().equals("glm-test-v2")).orElse(false));
    switched.set(true);
    awaitTrue(() -> provider.models().size() == 1); // the old one drained and closed
    awaitCount(afterSwitch, 80);
    stop.set(true);
    pool.shutdown();
    assertThat(pool.awaitTermination(2, TimeUnit.MINUTES)).isTrue();

    System.out.printf("hot swap under load: %d requests ok (%d after the switch), %d failed; native arrays %d bytes "
        + "with one model%n", ok.get(), afterSwitch.get(), failures.size(), oneModel);
    assertThat(failures).as("failed requests").isEmpty();
    assertThat(modelsAfterSwitch).containsExactly("glm-test-v2");
    assertThat(ok.get()).isGreaterThanOrEqualTo(200);
    // The old instance is closed: its engine takes nothing, and DJL holds one model's arrays again.
    assertThatThrownBy(() -> old.submit(GenerationRequest.of(List.of(1, 2), SamplingParams.greedy(2))))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    // its engine thread ends (close() joins it): one thread of that name fewer than before the swap
    awaitTrue(() -> engineThreads("autoglm-engine-glm-test") <= oldThreads - 1);
    assertThat(nativeArrayBytes()).isEqualTo(oneModel);
    assertThat(get("/v1/models").body()).contains("\"id\":\"glm-test-v2\"", "\"root\":\"glm-test-v2\"")
        .doesNotContain("loading");

    // A broken checkpoint: the load fails in the background, the serving model goes on, health says what failed.
    Path broken = Files.createDirectories(Path.of("target/test-models/broken-" + ProcessHandle.current().pid()));
    Files.writeString(broken.resolve("config.json"), "{\"architectures\": [\"NoSuchModel\"]}");
    assertThat(swap("{\"modelPath\":\"" + broken.toAbsolutePath() + "\",\"modelId\":\"broken\"}").statusCode())
        .isEqualTo(202);
    awaitTrue(() -> provider.models().stream().anyMatch(m -> m.state() == io.autoglm.ModelRegistry.Status.State.FAILED));
    assertThat(provider.get().orElseThrow().modelId()).isEqualTo("glm-test-v2");
    assertThat(chat(true, 1)).isEqualTo("glm-test-v2");
    String failedHealth = get("/actuator/health").body();
    assertThat(failedHealth).contains("\"status\":\"UP\"", "\"id\":\"broken\"", "\"state\":\"FAILED\"");
    assertThat(swap("{\"modelPath\":\"/no/such/dir\"}").statusCode()).isEqualTo(400);
    assertThat(http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/autoglm"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
            "{\"modelPath\":\"" + next + "\"}")).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
        .as("the write operation needs the API key").isEqualTo(401);
  }

  private static void awaitCount(AtomicInteger counter, int atLeast) {
    awaitTrue(() -> counter.get() >= atLeast);
  }

  private static long engineThreads(String name) {
    return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)).count();
  }

  private static void awaitTrue(java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not reached within 3 min");
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}
