package io.autoglm.spring;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import java.time.Duration;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One official openai-java client per test class, for the starter's server on the class's random port: made on
 * the first {@link #ready}, once the model has loaded, and closed after the class. No retries, so that each error
 * the test provokes reaches it as sent.
 *
 * <pre>{@code
 * @RegisterExtension static final OpenAiTestClient CLIENT = new OpenAiTestClient();
 * @BeforeEach void ready() { client = CLIENT.ready(provider, port); }
 * }</pre>
 */
final class OpenAiTestClient implements AfterAllCallback {
  private OpenAIClient client;

  /** Waits (2 min at most) for the model to load, then returns this class's client. */
  synchronized OpenAIClient ready(AutoGLMProvider provider, int port) {
    provider.await(Duration.ofMinutes(2));
    if (client == null) {
      client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
          .maxRetries(0).build();
    }
    return client;
  }

  @Override
  public synchronized void afterAll(ExtensionContext context) {
    if (client != null) {
      client.close();
      client = null;
    }
  }
}
