package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import io.autoglm.AutoGLM;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * logprobs, top_logprobs, penalties, min_p and logit_bias over HTTP, read by the official openai-java client:
 * the shapes parse, streamed logprobs equal the non-streamed ones, the values are those the engine computes for the
 * same request made through core, and bad values are 400s naming the field.
 */
@SpringBootTest(classes = TestApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SamplingApiTest {
  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    TestModel.register(registry);
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;
  @RegisterExtension static final OpenAiTestClient CLIENT = new OpenAiTestClient();
  private static OpenAIClient client;

  @BeforeEach
  void ready() {
    client = CLIENT.ready(provider, port);
  }

  private static ChatCompletionCreateParams.Builder chat(int maxTokens) {
    return ChatCompletionCreateParams.builder().model(TestModel.ID).addUserMessage("Tell me a story about 🌍")
        .maxCompletionTokens(maxTokens).temperature(0.0)
        .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
  }

  @Test
  void chatLogprobsSpellTheContentWithTheGreedyTokenOnTop() {
    ChatCompletion c = client.chat().completions().create(chat(16).logprobs(true).topLogprobs(5).build());
    ChatCompletion.Choice choice = c.choices().get(0);
    List<ChatCompletionTokenLogprob> tokens = choice.logprobs().orElseThrow().content().orElseThrow();
    assertThat(tokens).hasSize(16);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (ChatCompletionTokenLogprob t : tokens) {
      t.bytes().orElseThrow().forEach(b -> bytes.write(b.intValue()));
      assertThat(t.logprob()).isLessThanOrEqualTo(0.0);
      assertThat(t.topLogprobs()).hasSize(5);
      assertThat(t.topLogprobs().get(0).bytes()).isEqualTo(t.bytes());
      assertThat(t.topLogprobs().get(0).logprob()).isEqualTo(t.logprob());
      for (int k = 1; k < 5; k++) {
        assertThat(t.topLogprobs().get(k).logprob()).isLessThanOrEqualTo(t.topLogprobs().get(k - 1).logprob());
      }
    }
    assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo(choice.message().content().orElseThrow());
  }

  @Test
  void streamedChatLogprobsEqualTheAnswers() {
    ChatCompletionCreateParams params = chat(20).logprobs(true).topLogprobs(2).build();
    List<ChatCompletionTokenLogprob> whole = client.chat().completions().create(params).choices().get(0)
        .logprobs().orElseThrow().content().orElseThrow();
    List<ChatCompletionTokenLogprob> streamed = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
      stream.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.logprobs()
          .flatMap(ChatCompletionChunk.Choice.Logprobs::content).ifPresent(streamed::addAll)));
    }
    assertThat(streamed).hasSize(20);
    for (int i = 0; i < 20; i++) {
      assertThat(streamed.get(i).token()).isEqualTo(whole.get(i).token());
      assertThat(streamed.get(i).logprob()).isEqualTo(whole.get(i).logprob());
      assertThat(streamed.get(i).topLogprobs()).hasSize(2);
    }
  }

  /** A parsed answer (tools given) streams as content deltas; its chunks carry every token's logprobs once. */
  @Test
  void streamedParsedAnswersCarryEveryTokensLogprobsOnce() {
    ChatCompletionCreateParams params = chat(24).logprobs(true).addTool(
        com.openai.models.chat.completions.ChatCompletionFunctionTool.builder().function(
            com.openai.models.FunctionDefinition.builder().name("get_weather").build()).build()).build();
    List<ChatCompletionTokenLogprob> whole = client.chat().completions().create(params).choices().get(0)
        .logprobs().orElseThrow().content().orElseThrow();
    List<ChatCompletionTokenLogprob> streamed = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
      stream.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.logprobs()
          .flatMap(ChatCompletionChunk.Choice.Logprobs::content).ifPresent(streamed::addAll)));
    }
    assertThat(whole).hasSize(24);
    assertThat(streamed.stream().map(ChatCompletionTokenLogprob::token).toList())
        .isEqualTo(whole.stream().map(ChatCompletionTokenLogprob::token).toList());
  }

  @Test
  void noLogprobsUnlessAsked() {
    assertThat(client.chat().completions().create(chat(2).build()).choices().get(0).logprobs()).isEmpty();
  }

  /** The server's logprobs and penalized text equal core's for the same prompt and hand-built SamplingParams. */
  @Test
  void completionLogprobsAndPenaltiesEqualCore() {
    String prompt = "The quick brown fox";
    Completion c = client.completions().create(CompletionCreateParams.builder().model(TestModel.ID).prompt(prompt)
        .maxTokens(24).temperature(0.0).logprobs(3).presencePenalty(0.5).frequencyPenalty(1.0)
        .putAdditionalBodyProperty("repetition_penalty", JsonValue.from(1.3))
        .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build());
    AutoGLM glm = provider.get().orElseThrow();
    GenerationResult core = glm.submit(TextRequest.completion(prompt, SamplingParams.builder().maxNewTokens(24)
        .presencePenalty(0.5).frequencyPenalty(1.0).repetitionPenalty(1.3).ignoreEos(true).logprobs(3).build()))
        .result().join();
    CompletionChoice choice = c.choices().get(0);
    assertThat(choice.text()).isEqualTo(core.text());
    CompletionChoice.Logprobs lp = choice.logprobs().orElseThrow();
    assertThat(lp.tokenLogprobs().orElseThrow()).hasSize(24);
    for (int i = 0; i < 24; i++) {
      assertThat(lp.tokenLogprobs().get().get(i).floatValue()).isEqualTo(core.logprobs().get(i).logprob());
      assertThat(lp.topLogprobs().orElseThrow().get(i)._additionalProperties()).hasSize(
          distinctTexts(glm, core.logprobs().get(i).top()));
    }
    List<Long> offsets = lp.textOffset().orElseThrow();
    List<String> texts = lp.tokens().orElseThrow();
    assertThat(offsets.get(0)).isEqualTo(0L);
    for (int i = 1; i < 24; i++) {
      assertThat(offsets.get(i)).isEqualTo(offsets.get(i - 1) + texts.get(i - 1).length());
    }
    // with penalties the greedy answer is not the plain greedy one
    GenerationResult plain = glm.submit(TextRequest.completion(prompt, SamplingParams.builder().maxNewTokens(24)
        .ignoreEos(true).build())).result().join();
    assertThat(plain.tokenIds()).isNotEqualTo(core.tokenIds());
  }

  private static int distinctTexts(AutoGLM glm, List<io.autoglm.GenerationResult.TokenLogprobs.Candidate> top) {
    return (int) top.stream().map(t -> new String(glm.tokenizer().tokenBytes(t.tokenId()), StandardCharsets.UTF_8))
        .distinct().count();
  }

  @Test
  void logitBiasOfAHundredGivesOnlyThatTokenAtTemperatureZero() {
    AutoGLM glm = provider.get().orElseThrow();
    int id = glm.tokenizer().encode("hello").get(0);
    String text = new String(glm.tokenizer().tokenBytes(id), StandardCharsets.UTF_8);
    ChatCompletion c = client.chat().completions().create(chat(6).logitBias(ChatCompletionCreateParams.LogitBias
        .builder().putAdditionalProperty(String.valueOf(id), JsonValue.from(100)).build()).build());
    assertThat(c.choices().get(0).message().content().orElseThrow()).isEqualTo(text.repeat(6));
  }

  @Test
  void minPIsAcceptedAndAtOneIsGreedy() {
    ChatCompletionCreateParams.Builder b = chat(12).temperature(1.5).seed(3)
        .putAdditionalBodyProperty("min_p", JsonValue.from(1.0));
    String greedy = client.chat().completions().create(chat(12).build()).choices().get(0).message().content()
        .orElseThrow();
    assertThat(client.chat().completions().create(b.build()).choices().get(0).message().content().orElseThrow())
        .isEqualTo(greedy);
  }

  @Test
  void badValuesAre400sNamingTheField() throws Exception {
    String chat = "\"model\":\"glm-test\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1,";
    String completion = "\"model\":\"glm-test\",\"prompt\":\"hi\",\"max_tokens\":1,";
    Map<String, String> cases = new java.util.LinkedHashMap<>();
    cases.put("chat:\"presence_penalty\":2.5", "presence_penalty");
    cases.put("chat:\"frequency_penalty\":-3", "frequency_penalty");
    cases.put("chat:\"repetition_penalty\":0", "repetition_penalty");
    cases.put("chat:\"repetition_penalty\":-1", "repetition_penalty");
    cases.put("chat:\"min_p\":1.5", "min_p");
    cases.put("chat:\"logprobs\":true,\"top_logprobs\":21", "top_logprobs");
    cases.put("chat:\"top_logprobs\":3", "top_logprobs");
    cases.put("chat:\"logprobs\":3", "logprobs");
    cases.put("chat:\"logit_bias\":{\"42\":150}", "logit_bias.42");
    cases.put("chat:\"logit_bias\":{\"abc\":1}", "logit_bias");
    cases.put("chat:\"logit_bias\":{\"-4\":1}", "logit_bias");
    cases.put("chat:\"logit_bias\":{\"99999999\":1}", "logit_bias");
    cases.put("chat:\"logit_bias\":[1]", "logit_bias");
    cases.put("completion:\"logprobs\":21", "logprobs");
    cases.put("completion:\"logprobs\":true", "logprobs");
    cases.put("completion:\"logprobs\":2,\"echo\":true", "echo");
    HttpClient http = HttpClient.newHttpClient();
    for (Map.Entry<String, String> e : cases.entrySet()) {
      boolean isChat = e.getKey().startsWith("chat:");
      String body = "{" + (isChat ? chat : completion) + e.getKey().substring(e.getKey().indexOf(':') + 1) + "}";
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
          + (isChat ? "/v1/chat/completions" : "/v1/completions"))).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(body).isEqualTo(400);
      JsonNode error = JsonMapper.shared().readTree(r.body()).get("error");
      assertThat(error.get("param").asString()).as(body).isEqualTo(e.getValue());
      assertThat(error.get("message").asString()).as(body).contains(e.getValue().replace("logit_bias.42", "42"));
    }
  }
}
