package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The observations of an API request, recorded by a handler on the application's registry: {@code autoglm.request} under
 * the HTTP server's observation, and per choice {@code autoglm.queue}, {@code autoglm.prefill} and
 * {@code autoglm.decode} under it, with the GenAI tags; a streamed and a whole answer alike.
 */
@SpringBootTest(classes = {TestApplication.class, RequestObservationTest.Registry.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class RequestObservationTest {
  /** Boot registers every ObservationHandler bean with the application's registry: this one keeps the stopped. */
  @TestConfiguration
  static class Registry {
    static final Queue<Observation.Context> STOPPED = new ConcurrentLinkedQueue<>();

    @Bean
    ObservationHandler<Observation.Context> recordingHandler() {
      return new ObservationHandler<>() {
        @Override
        public void onStop(Observation.Context context) {
          STOPPED.add(context);
        }

        @Override
        public boolean supportsContext(Observation.Context context) {
          return true;
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

  @BeforeEach
  void ready() {
    provider.await(Duration.ofMinutes(2));
  }

  private void chat(boolean stream, int n) throws Exception {
    String body = "{\"model\":\"" + TestModel.ID + "\",\"max_tokens\":5,\"temperature\":0,\"n\":" + n
        + ",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://localhost:" + port + "/v1/chat/completions")).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  @Test
  void requestAndPhaseObservationsNestUnderTheHttpObservation() throws Exception {
    for (boolean stream : List.of(false, true)) {
      Registry.STOPPED.clear();
      chat(stream, 2);
      awaitStopped(1 + 2 * 3);
      List<Observation.Context> requests = named(RequestObservation.REQUEST);
      assertThat(requests).hasSize(1);
      Observation.Context request = requests.get(0);
      assertThat(request.getParentObservation()).isNotNull();
      assertThat(request.getParentObservation().getContextView().getName()).isEqualTo("http.server.requests");
      assertThat(request.getLowCardinalityKeyValue("gen_ai.operation.name").getValue()).isEqualTo("chat");
      assertThat(request.getLowCardinalityKeyValue("gen_ai.request.model").getValue()).isEqualTo(TestModel.ID);
      assertThat(request.getLowCardinalityKeyValue("autoglm.stream").getValue()).isEqualTo(Boolean.toString(stream));
      for (String phase : List.of(RequestObservation.QUEUE, RequestObservation.PREFILL, RequestObservation.DECODE)) {
        List<Observation.Context> phases = named(phase);
        assertThat(phases).as(phase).hasSize(2); // one per choice
        assertThat(phases).allSatisfy(c -> assertThat(c.getParentObservation().getContextView()).isSameAs(request));
        // each choice's phases carry its own request id
        assertThat(phases.stream().map(c -> c.getHighCardinalityKeyValue("autoglm.request_id").getValue())
            .distinct()).hasSize(2);
      }
      assertThat(named(RequestObservation.DECODE)).allSatisfy(c -> {
        assertThat(c.getLowCardinalityKeyValue("gen_ai.response.finish_reasons").getValue()).isEqualTo("length");
        assertThat(c.getHighCardinalityKeyValue("gen_ai.usage.output_tokens").getValue()).isEqualTo("5");
      });
    }
  }

  private List<Observation.Context> named(String name) {
    return Registry.STOPPED.stream().filter(c -> name.equals(c.getName())).collect(Collectors.toList());
  }

  /** Observations stop on callback threads after the response: wait (up to 30 s) until the expected ones have. */
  private void awaitStopped(int autoglmObservations) throws InterruptedException {
    for (long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        System.nanoTime() < deadline; ) {
      if (Registry.STOPPED.stream().filter(c -> c.getName().startsWith("autoglm.")).count() >= autoglmObservations) {
        return;
      }
      Thread.sleep(10);
    }
    throw new AssertionError("stopped observations: " + Registry.STOPPED.stream().map(Observation.Context::getName)
        .toList());
  }
}
