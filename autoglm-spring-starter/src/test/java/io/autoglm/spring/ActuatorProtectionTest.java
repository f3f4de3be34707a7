package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * With API keys set the actuator wants a key too, except health (and its probe groups), which Kubernetes calls
 * without one; the decision follows the container's normalised path, so a {@code ..} detour is no way around it.
 */
@SpringBootTest(classes = TestApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "autoglm.api-keys=key-a",
      "management.endpoints.web.exposure.include=health,autoglm,metrics",
      "management.endpoint.health.probes.enabled=true",
    })
class ActuatorProtectionTest {
  private static final Map<String, String> KEY = Map.of("Authorization", "Bearer key-a");

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

  private int status(String path, Map<String, String> headers) throws Exception {
    return RawHttp.exchange(port, "GET", path, headers, "").status();
  }

  @Test
  void healthAndProbesStayOpen() throws Exception {
    for (String path : List.of("/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness")) {
      assertThat(status(path, Map.of())).as(path).isEqualTo(200);
    }
  }

  @Test
  void everyOtherEndpointNeedsTheKey() throws Exception {
    for (String path : List.of("/actuator", "/actuator/autoglm", "/actuator/metrics",
        "/actuator/health/../autoglm", "/actuator/health/%2e%2e/autoglm", "/actuator/autoglm;x=1")) {
      RawHttp.Response r = RawHttp.exchange(port, "GET", path, Map.of(), "");
      assertThat(r.status()).as(path + ": " + r.body()).isEqualTo(401);
      assertThat(r.body()).contains("invalid_api_key");
    }
    assertThat(status("/actuator/autoglm", KEY)).isEqualTo(200);
    assertThat(status("/actuator/autoglm", Map.of("Authorization", "Bearer key-b"))).isEqualTo(401);
  }

  /** protect-actuator=false, or no keys: the actuator is open; the API's own paths are guarded whenever keys are. */
  @Test
  void protectionFollowsTheSettings() {
    AutoGLMProperties.Server off = new AutoGLMProperties.Server(true, null, 8, 1.0, 4096,
        org.springframework.util.unit.DataSize.ofMegabytes(4), false, Duration.ofSeconds(1));
    AutoGLMProperties.Server unset = new AutoGLMProperties.Server(true, null, 8, 1.0, 4096,
        org.springframework.util.unit.DataSize.ofMegabytes(4), null, Duration.ofSeconds(1));
    assertThat(off.actuatorProtected(List.of("k"))).isFalse();
    assertThat(unset.actuatorProtected(List.of("k"))).isTrue();
    assertThat(unset.actuatorProtected(List.of())).isFalse();
    ApiKeyFilter apiOnly = new ApiKeyFilter(List.of("k"), Optional.empty());
    assertThat(apiOnly.shouldNotFilter(get("/actuator/autoglm"))).isTrue();
    assertThat(apiOnly.shouldNotFilter(get("/v1/models"))).isFalse();
    ApiKeyFilter none = new ApiKeyFilter(List.of(), Optional.of("/actuator"));
    assertThat(none.shouldNotFilter(get("/v1/models"))).isTrue();
  }

  private static MockHttpServletRequest get(String path) {
    MockHttpServletRequest r = new MockHttpServletRequest("GET", path);
    r.setServletPath(path);
    return r;
  }
}
