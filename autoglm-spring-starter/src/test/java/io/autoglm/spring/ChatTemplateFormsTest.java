package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.autoglm.tokenizer.ChatTemplate;
import io.autoglm.TextRequest.OutputParsing;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Tool turns sent in OpenAI's shape (arguments as a JSON string, {@code role: tool} with {@code tool_call_id})
 * render, through the request parser and the template's forms, exactly as transformers renders the same
 * conversation in each template's own form: the chat goldens of core (chat_goldens.json).
 */
class ChatTemplateFormsTest {
  private static final JsonMapper JSON = JsonMapper.shared();

  private static ChatTemplate template(String name) {
    return ChatTemplate.load(TestModel.fixtures().resolve("tokenizers/" + name));
  }

  static Stream<JsonNode> toolCases() throws Exception {
    try (InputStream in = ChatTemplateFormsTest.class.getResourceAsStream("/io/autoglm/tokenizer/chat_goldens.json")) {
      List<JsonNode> cases = new ArrayList<>();
      JSON.readTree(in).get("cases").values().forEach(cases::add);
      return cases.stream().filter(c -> c.get("messages").valueStream() // the cases with a tool result
          .anyMatch(m -> List.of("tool", "observation").contains(m.get("role").asString())));
    }
  }

  @ParameterizedTest(name = "{index}")
  @MethodSource("toolCases")
  void openAiToolTurnsRenderAsTheGolden(JsonNode golden) {
    ChatTemplate t = template(golden.get("template").asString());
    OpenAiRequestParser parser = new OpenAiRequestParser(1.0, 4, 64, ChatTemplateForms.of(Optional.of(t)));
    OpenAiRequest r = parser.chat(JSON.valueToTree(openAiBody(golden)));
    assertThat(t.render(r.chat().orElseThrow())).isEqualTo(golden.get("text").asString());
    assertThat(r.parsing()).isEqualTo(OutputParsing.REASONING_AND_TOOL_CALLS);
  }

  /**
   * The golden conversation as an OpenAI client sends it: calls with ids and JSON-text arguments (GLM-4's
   * {@code metadata} turns become such calls), results as {@code role: tool} answering them, tools at the top
   * (GLM-4's tools system message dropped: the template's forms put it back).
   */
  private static Map<String, Object> openAiBody(JsonNode golden) {
    List<Object> messages = new ArrayList<>();
    List<Object> tools = golden.get("tools").isNull() ? null : plainList(golden.get("tools"));
    int calls = 0;
    for (JsonNode m : golden.get("messages").values()) {
      Map<String, Object> msg = new LinkedHashMap<>();
      String role = m.get("role").asString();
      if (m.has("tools")) {
        tools = plainList(m.get("tools"));
        continue;
      }
      if (m.has("metadata") || m.has("tool_calls")) {
        List<Object> list = new ArrayList<>();
        for (JsonNode c : m.has("tool_calls") ? m.get("tool_calls").values()
            : List.of(JSON.createObjectNode().set("function", JSON.createObjectNode()
                .put("name", m.get("metadata").asString()).put("arguments", m.get("content").asString())))) {
          JsonNode args = c.get("function").get("arguments");
          list.add(Map.of("id", "call_" + calls++, "type", "function", "function", Map.of(
              "name", c.get("function").get("name").asString(),
              "arguments", args.isString() ? args.asString() : JSON.writeValueAsString(args))));
        }
        msg.put("role", "assistant");
        msg.put("content", m.has("metadata") ? "" : Json.plain(m.get("content")));
        msg.put("tool_calls", list);
      } else if (role.equals("tool") || role.equals("observation")) {
        msg.put("role", "tool");
        msg.put("content", Json.plain(m.get("content")));
        msg.put("tool_call_id", "call_" + (calls - 1));
      } else {
        msg.put("role", role);
        msg.put("content", Json.plain(m.get("content")));
      }
      messages.add(msg);
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("messages", messages);
    body.put("tools", tools);
    Map<String, Object> kwargs = new LinkedHashMap<>();
    golden.get("kwargs").properties().forEach(e -> kwargs.put(e.getKey(), Json.plain(e.getValue())));
    assertThat(kwargs.remove("add_generation_prompt")).isEqualTo(true);
    if (!kwargs.isEmpty()) {
      body.put("chat_template_kwargs", kwargs);
    }
    return body;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> plainList(JsonNode n) {
    return (List<Object>) Json.plain(n);
  }

  @Test
  void formsFollowTheTemplate() {
    assertThat(ChatTemplateForms.of(Optional.of(template("glm-4.5"))))
        .isEqualTo(new ChatTemplateForms(true, "tool", true));
    assertThat(ChatTemplateForms.of(Optional.of(template("glm-4-9b-chat-hf"))))
        .isEqualTo(new ChatTemplateForms(false, "observation", false));
    assertThat(ChatTemplateForms.of(Optional.empty())).isEqualTo(ChatTemplateForms.OPENAI);
  }

  @Test
  void parsingFollowsToolsToolChoiceAndThinking() {
    OpenAiRequestParser glm45 = new OpenAiRequestParser(1.0, 4, 64,
        ChatTemplateForms.of(Optional.of(template("glm-4.5"))));
    OpenAiRequestParser glm4 = new OpenAiRequestParser(1.0, 4, 64,
        ChatTemplateForms.of(Optional.of(template("glm-4-9b-chat-hf"))));
    String tools = ", \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": "
        + "{\"type\": \"object\", \"properties\": {}}}}]";
    assertThat(parse(glm45, tools).parsing()).isEqualTo(OutputParsing.REASONING_AND_TOOL_CALLS);
    assertThat(parse(glm4, tools).parsing()).isEqualTo(OutputParsing.REASONING_AND_TOOL_CALLS);
    assertThat(parse(glm45, tools + ", \"tool_choice\": \"none\"").parsing()).isEqualTo(OutputParsing.REASONING);
    assertThat(parse(glm45, "").parsing()).isEqualTo(OutputParsing.REASONING);
    assertThat(parse(glm4, "").parsing()).isEqualTo(OutputParsing.RAW);
    assertThat(parse(glm4, tools + ", \"tool_choice\": \"none\"").parsing()).isEqualTo(OutputParsing.RAW);
    assertThat(parse(glm4, tools).parallelToolCalls()).isTrue();
    assertThat(parse(glm4, tools + ", \"parallel_tool_calls\": false").parallelToolCalls()).isFalse();
    assertThat(parse(glm4, "").textRequests("u", Optional.empty()).get(0).parsing()).isEqualTo(OutputParsing.RAW);
    assertThat(parse(glm45, tools).textRequests("u", Optional.empty()).get(0).parsing())
        .isEqualTo(OutputParsing.REASONING_AND_TOOL_CALLS);
    assertThat(new OpenAiRequestParser(1.0, 4, 64).completion(JSON.readTree("{\"prompt\": \"x\"}")).parsing())
        .isEqualTo(OutputParsing.RAW);
  }

  @Test
  void badToolFieldsAre400sNamingThem() {
    OpenAiRequestParser glm4 = new OpenAiRequestParser(1.0, 4, 64,
        ChatTemplateForms.of(Optional.of(template("glm-4-9b-chat-hf"))));
    assertThatThrownBy(() -> parse(glm4, ", \"parallel_tool_calls\": \"no\""))
        .isInstanceOf(OpenAiException.class).hasMessageContaining("parallel_tool_calls")
        .hasMessageContaining("a boolean");
    String call = "{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"c\", \"type\": \"function\", \"function\": "
        + "{\"name\": \"f\", \"arguments\": \"%s\"}}]}";
    for (OpenAiRequestParser p : List.of(glm4, new OpenAiRequestParser(1.0, 4, 64,
        ChatTemplateForms.of(Optional.of(template("glm-4.5")))))) {
      assertThatThrownBy(() -> p.chat(JSON.readTree("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
          + String.format(call, "not json") + "]}")))
          .isInstanceOf(OpenAiException.class)
          .hasMessageContaining("'messages[1].tool_calls[0].function.arguments' must be a JSON object")
          .hasMessageContaining("'not json'")
          .satisfies(e -> assertThat(((Map<?, ?>) ((OpenAiException) e).body().get("error")).get("param"))
              .isEqualTo("messages[1].tool_calls[0].function.arguments"));
    }
  }

  private static OpenAiRequest parse(OpenAiRequestParser p, String more) {
    return p.chat(JSON.readTree("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]" + more + "}"));
  }
}
