package io.autoglm.springai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.observation.ChatModelObservationContext;
import org.springframework.ai.chat.observation.ChatModelObservationDocumentation;
import org.springframework.ai.chat.observation.DefaultChatModelObservationConvention;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.content.Media;
import org.springframework.util.MimeTypeUtils;
import reactor.core.publisher.Flux;

/**
 * The stream against the blocking call (the same seeded prompt gives the same text both ways), usage against the
 * tokenizer, cancellation against the engine's accounting (nothing running, KV usage back at its idle level), and
 * Spring AI's conventions: refused options named, the observation convention used.
 */
class StreamAndConventionsTest {
  private static AutoGLM glm;

  @BeforeAll
  static void start() {
    glm = TestEngine.start();
  }

  @AfterAll
  static void stop() {
    glm.close();
  }

  private static AutoGLMChatModel model(int maxTokens) {
    return AutoGLMChatModel.builder().autoGLM(glm).defaultOptions(AutoGLMChatOptions.builder().temperature(1.0)
        .seed(5L).maxTokens(maxTokens).build()).build();
  }

  @Test
  void streamedChunksAddUpToTheCalledAnswerAndTheLastCarriesUsage() {
    AutoGLMChatModel model = model(12);
    List<ChatResponse> chunks = model.stream(new Prompt("Tell me a story.")).collectList().block(Duration.ofMinutes(1));
    String streamed = String.join("", chunks.stream().map(c -> c.getResult().getOutput().getText()).toList());
    ChatResponse called = model.call(new Prompt("Tell me a story."));

    assertTrue(chunks.size() > 2, "streamed in pieces: " + chunks.size());
    assertEquals(called.getResult().getOutput().getText(), streamed);
    ChatResponse last = chunks.get(chunks.size() - 1);
    int promptTokens = glm.tokenizer().encodeChat(ChatPrompt.of(List.of(ChatMessage.user("Tell me a story."))))
        .size();
    assertEquals(promptTokens, last.getMetadata().getUsage().getPromptTokens());
    assertEquals(called.getMetadata().getUsage().getCompletionTokens(),
        last.getMetadata().getUsage().getCompletionTokens());
    assertEquals(called.getResult().getMetadata().getFinishReason(), last.getResult().getMetadata().getFinishReason());
    assertEquals(TestEngine.MODEL_ID, last.getMetadata().getModel());
    // ChatClient's streaming path: the same text through the advisor chain
    assertEquals(streamed, String.join("", ChatClient.create(model).prompt("Tell me a story.").stream().content()
        .collectList().block(Duration.ofMinutes(1))));
  }

  @Test
  void cancellingTheSubscriptionStopsTheRequestAndFreesItsBlocks() throws Exception {
    double idle = TestEngine.awaitIdle(glm, glm.stats().kvUsage()).kvUsage();
    CompletableFuture<EngineStats> during = new CompletableFuture<>();
    AutoGLMChatModel model = AutoGLMChatModel.builder().autoGLM(glm).defaultOptions(AutoGLMChatOptions.builder()
        .temperature(1.0).seed(9L).maxTokens(1500).build()).build();
    List<ChatResponse> got = model.stream(new Prompt("Count to a thousand."))
        .doOnNext(c -> during.complete(glm.stats())).take(3).collectList().block(Duration.ofMinutes(1));
    assertEquals(3, got.size());
    assertTrue(got.stream().allMatch(c -> c.getResult().getMetadata().getFinishReason() == null),
        "cancelled mid-answer, before the last chunk");
    EngineStats running = during.get(1, TimeUnit.MINUTES);
    assertEquals(1, running.running() + running.waiting(), "the request was in the engine: " + running);
    assertTrue(running.kvUsage() > idle, "the request held blocks: " + running);
    TestEngine.awaitIdle(glm, idle);
  }

  @Test
  void unsupportedOptionsAreRefusedByName() {
    AutoGLMChatModel model = model(4);
    assertEquals("frequencyPenalty (0.5) is not supported by AutoGLM: the engine has no penalties; leave it unset "
        + "or 0", assertThrows(IllegalArgumentException.class, () -> model.call(new Prompt("q",
            ChatOptions.builder().frequencyPenalty(0.5).build()))).getMessage());
    assertEquals("model 'gpt-4o' is not served: this model serves 'glm-test' (leave model unset)",
        assertThrows(IllegalArgumentException.class, () -> model.call(new Prompt("q",
            AutoGLMChatOptions.builder().model("gpt-4o").build()))).getMessage());
    assertEquals("toolChoice REQUIRED needs tool callbacks, got none", assertThrows(IllegalArgumentException.class,
        () -> model.call(new Prompt("q", AutoGLMChatOptions.builder()
            .toolChoice(AutoGLMChatOptions.ToolChoice.REQUIRED).build()))).getMessage());
    UserMessage withImage = UserMessage.builder().text("look").media(new Media(MimeTypeUtils.IMAGE_PNG,
        java.net.URI.create("https://example.invalid/cat.png"))).build();
    assertEquals("messages[0] has 1 media (image/png); GLM text models read text only",
        assertThrows(IllegalArgumentException.class, () -> model.call(new Prompt(withImage))).getMessage());
    assertEquals("topP (1.5) must be in (0, 1]", assertThrows(IllegalArgumentException.class,
        () -> model.call(new Prompt("q", ChatOptions.builder().topP(1.5).build()))).getMessage());
    // the stream reports the same refusal as an error signal
    assertEquals("topP (1.5) must be in (0, 1]", assertThrows(IllegalArgumentException.class,
        () -> model.stream(new Prompt("q", ChatOptions.builder().topP(1.5).build())).blockLast()).getMessage());
    assertThrows(NullPointerException.class, () -> AutoGLMChatModel.builder().build());
  }

  @Test
  void requestOptionsOverrideTheDefaultsOneByOne() {
    AutoGLMChatOptions defaults = AutoGLMChatOptions.builder().temperature(0.7).seed(1L).maxTokens(9).build();
    AutoGLMChatOptions merged = defaults.overriddenBy(ChatOptions.builder().maxTokens(3).build());
    assertEquals(0.7, merged.getTemperature());
    assertEquals(1L, merged.getSeed());
    assertEquals(3, merged.getMaxTokens());
    assertEquals(defaults, defaults.overriddenBy(null));
    assertEquals(5L, defaults.overriddenBy(AutoGLMChatOptions.builder().seed(5L).build()).getSeed());
  }

  @Test
  void theGivenObservationConventionNamesTheObservations() {
    List<Observation.Context> seen = new CopyOnWriteArrayList<>();
    ObservationRegistry registry = ObservationRegistry.create();
    registry.observationConfig().observationHandler(new ObservationHandler<>() {
      @Override
      public void onStop(Observation.Context context) {
        seen.add(context);
      }

      @Override
      public boolean supportsContext(Observation.Context context) {
        return true;
      }
    });
    AutoGLMChatModel model = AutoGLMChatModel.builder().autoGLM(glm).observationRegistry(registry)
        .observationConvention(new DefaultChatModelObservationConvention() {
          @Override
          public String getName() {
            return "autoglm.test.chat";
          }
        }).defaultOptions(AutoGLMChatOptions.builder().maxTokens(3).build()).build();
    model.call(new Prompt("q"));
    Flux<ChatResponse> stream = model.stream(new Prompt("q"));
    stream.blockLast(Duration.ofMinutes(1));
    assertEquals(2, seen.size());
    for (Observation.Context c : seen) {
      assertEquals("autoglm.test.chat", c.getName());
      ChatModelObservationContext chat = (ChatModelObservationContext) c;
      assertEquals("autoglm", chat.getOperationMetadata().provider());
      assertTrue(chat.getResponse().getMetadata().getUsage().getTotalTokens() > 0, "usage observed");
      assertEquals("autoglm", c.getLowCardinalityKeyValue(
          ChatModelObservationDocumentation.LowCardinalityKeyNames.AI_PROVIDER.asString()).getValue());
    }
    assertTrue(((ChatModelObservationContext) seen.get(1)).isStreaming());
  }
}
