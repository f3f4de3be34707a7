package io.autoglm.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.service.AiServices;
import io.autoglm.testkit.RandomCheckpoint;
import io.autoglm.spring.AutoGLMProvider;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Issue 20, acceptance 1: LangChain4j 1.19 {@code AiServices} with a {@code @Tool} method against the sample app
 * (random GLM-4-vocabulary model, real tokenizer and chat template) completes the two-step loop: the first request
 * forces a call ({@code tool_choice: required}), LangChain4j parses the arguments into the method's Java types and
 * runs it, sends the result back as a {@code role: tool} message, and the second request (tool choice auto) answers.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ToolLoopLangChain4jTest {
  @TempDir static Path dir;

  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    Path model = dir.resolve("glm-random");
    RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
        "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16", "max_position_embeddings", "1024"),
        1L << 30, 7).write(model, s -> {});
    registry.add("autoglm.model-path", model::toString);
    registry.add("autoglm.tokenizer-path", () -> GlmServerApplicationTest.fixtures()
        .resolve("tokenizers/glm-4-9b-chat-hf").toString());
    registry.add("autoglm.model-id", () -> "glm-test");
    registry.add("autoglm.kv-blocks", () -> "512");
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;

  enum City { PARIS, TOKYO, LIMA }

  /** The tool; records every call it gets, with the arguments LangChain4j parsed. */
  static final class Weather {
    final List<String> calls = new CopyOnWriteArrayList<>();

    @Tool("Forecast for a city")
    String forecast(@P("the city") City city, @P("days ahead") long days) {
      calls.add(city + "/" + days);
      return "sunny in " + city + " for " + days + " days";
    }
  }

  interface Assistant {
    String chat(String message);
  }

  /** Forces a call on the first request of the loop (no tool result yet); later ones keep tool choice auto. */
  static final class FirstCallForced implements ChatModel {
    private final ChatModel delegate;
    final List<ChatRequest> requests = new CopyOnWriteArrayList<>();
    final List<ChatResponse> responses = new CopyOnWriteArrayList<>();

    FirstCallForced(ChatModel delegate) {
      this.delegate = delegate;
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
      boolean answered = request.messages().stream().anyMatch(m -> m instanceof ToolExecutionResultMessage);
      ChatRequest r = answered ? request : ChatRequest.builder().messages(request.messages())
          .parameters(request.parameters().overrideWith(ChatRequestParameters.builder()
              .toolChoice(ToolChoice.REQUIRED).build())).build();
      requests.add(r);
      ChatResponse response = delegate.chat(r);
      responses.add(response);
      return response;
    }
  }

  @Test
  void aForcedCallIsExecutedAndTheModelAnswersItsResult() {
    provider.await(Duration.ofMinutes(2));
    ChatModel openAi = OpenAiChatModel.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
        .modelName("glm-test").temperature(0.0).maxTokens(64).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    FirstCallForced model = new FirstCallForced(openAi);
    Weather weather = new Weather();
    Assistant assistant = AiServices.builder(Assistant.class).chatModel(model).tools(weather).build();

    String answer = assistant.chat("What will the weather be in Paris in three days?");

    assertThat(weather.calls).hasSize(1); // typed arguments: an enum constant and a long, parsed by LangChain4j
    assertThat(weather.calls.get(0)).matches("(PARIS|TOKYO|LIMA)/-?\\d{1,18}");
    assertThat(model.requests).hasSize(2);
    assertThat(model.requests.get(0).parameters().toolChoice()).isEqualTo(ToolChoice.REQUIRED);
    AiMessage call = model.responses.get(0).aiMessage();
    assertThat(call.hasToolExecutionRequests()).isTrue();
    assertThat(call.toolExecutionRequests().get(0).name()).isEqualTo("forecast");
    assertThat(model.requests.get(1).messages()).anyMatch(m -> m instanceof ToolExecutionResultMessage t
        && t.text().equals("sunny in " + weather.calls.get(0).replace("/", " for ") + " days"));
    assertThat(model.responses.get(1).aiMessage().hasToolExecutionRequests()).isFalse();
    assertThat(answer).isNotBlank().isEqualTo(model.responses.get(1).aiMessage().text());
  }
}
