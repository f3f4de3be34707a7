package io.autoglm.tokenizer;

import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Message content as a string or as text parts, control characters kept as they are, and tools put where the
 * template reads them, never dropped. Expected texts are transformers' (glm-4-9b-chat's template prints
 * {@code {{ item['content'] }}} as Python's {@code str()}), or follow from the chat_goldens.json renderings.
 */
class ChatContentTest {
  private static final Map<String, Object> WEATHER = ordered("type", "function", "function",
      ordered("name", "get_weather", "description", "weather", "parameters", Map.of("type", "object")));
  private static GlmTokenizer glm4;
  private static final ChatTemplate GLM45 = ChatTemplate.load(Fixtures.tokenizers("glm-4.5"));

  @BeforeAll
  static void load() {
    glm4 = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf"));
  }

  @AfterAll
  static void close() {
    glm4.close();
  }

  /** Issue 16: a NUL used to come out as the six characters backslash-u-0-0-0-0. */
  @Test
  void nulAndOtherControlCharactersStayAsTheyAre() {
    String content = "a\u0000b\u0001c\u001b[0m\u007f\u2028\uFEFF";
    EncodedPrompt p = glm4.encodeChat(ChatPrompt.of(List.of(ChatMessage.user(content))));
    assertEquals("[gMASK]<sop><|user|>\n" + content + "<|assistant|>", p.text());
    assertEquals(p.text(), glm4.decode(p.ids()));
    assertEquals(p.text(), glm4.chatTemplate().orElseThrow().render(ChatPrompt.of(List.of(ChatMessage.user(
        content)))));
    String glm45 = GLM45.render(ChatPrompt.of(List.of(ChatMessage.user(content), ChatMessage.assistant(content))));
    assertTrue(glm45.contains("<|user|>\n" + content + "<|assistant|>"), glm45);
  }

  @Test
  void textPartsReachTheTemplateAsTransformersPassesThem() {
    ChatMessage parts = new ChatMessage("user", ChatMessage.Content.parts("part one ", "it's"));
    assertEquals("part one it's", parts.content().joined());
    assertEquals("[gMASK]<sop><|user|>\npart one it's<|assistant|>", GLM45.render(ChatPrompt.of(List.of(parts))));
    assertEquals("[gMASK]<sop><|user|>\n[{'type': 'text', 'text': 'part one '}, {'type': 'text', 'text': \"it's\"}]"
        + "<|assistant|>", glm4.chatTemplate().orElseThrow().render(ChatPrompt.of(List.of(parts))));
  }

  @Test
  void nonTextPartsAreRejectedNamingMessagePartAndType() {
    String image = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"user\", \"content\": "
        + "[{\"type\": \"text\", \"text\": \"look\"}, {\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}";
    assertMessage(() -> ChatPrompt.fromJson(image), "message 1 content part 1", "'image_url'", "only 'text'");
    assertMessage(() -> ChatPrompt.fromJson("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
        + "\"input_audio\"}]}]}"), "message 0 content part 0", "'input_audio'");
    assertMessage(() -> ChatPrompt.fromJson("{\"messages\": [{\"role\": \"user\", \"content\": [\"bare\"]}]}"),
        "message 0 content part 0 is bare");
    assertMessage(() -> ChatPrompt.fromJson("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}"),
        "message 0 content is 5", "a string or a list of text parts");
    assertMessage(() -> ChatPrompt.fromJson("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
        + "\"text\", \"text\": \"a\", \"cache\": 1}]}]}"), "message 0 content part 0 has key 'cache'");
    assertMessage(() -> new ChatMessage("user", ChatMessage.Content.parts("ok", "\uD800")),
        "user message content part 1", "U+D800");
  }

  /** Issue 17: with glm-4-9b-chat's template the tools used to vanish (the same 9 prompt tokens with and without). */
  @Test
  void toolsGoWhereEachTemplateReadsThem() {
    ChatPrompt bare = ChatPrompt.of(List.of(ChatMessage.user("weather?")));
    ChatPrompt withTools = new ChatPrompt(bare.messages(), List.of(WEATHER), true, Map.of());
    String glm4Text = glm4.encodeChat(withTools).text();
    assertTrue(glm4Text.startsWith("[gMASK]<sop><|system|>\n你是一个名为 GLM-4 的人工智能助手"), glm4Text);
    assertTrue(glm4Text.contains("## get_weather\n\n{\n    \"name\": \"get_weather\""), glm4Text);
    assertTrue(glm4Text.endsWith("<|user|>\nweather?<|assistant|>"), glm4Text);
    assertTrue(glm4.encodeChat(withTools).ids().length > glm4.encodeChat(bare).ids().length + 20);
    String glm45Text = GLM45.render(withTools);
    assertTrue(glm45Text.contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""),
        glm45Text);
  }

  @Test
  void toolsTheTemplateCannotRenderAreAnErrorNotADrop() {
    ChatTemplate plain = ChatTemplate.of("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}");
    ChatPrompt withTools = new ChatPrompt(List.of(ChatMessage.user("hi")), List.of(WEATHER), true, Map.of());
    assertMessage(() -> plain.render(withTools), "1 tools", "the chat template has no tools support");
    assertEquals("<|user|>hi", plain.render(ChatPrompt.of(withTools.messages())));
    ChatMessage toolsField = new ChatMessage("system", "", Map.of("tools", List.of(WEATHER)));
    assertMessage(() -> GLM45.render(ChatPrompt.of(List.of(toolsField, ChatMessage.user("hi")))),
        "message 0 has a 'tools' field", "give them as the prompt's tools");
    ChatMessage call = ChatMessage.assistant("").withField("tool_calls", List.of(Map.of("type", "function",
        "function", Map.of("name", "get_weather", "arguments", Map.of()))));
    assertMessage(() -> glm4.encodeChat(ChatPrompt.of(List.of(ChatMessage.user("hi"), call))),
        "message 1 has 1 tool_calls", "never renders tool_calls");
    assertTrue(GLM45.render(ChatPrompt.of(List.of(ChatMessage.user("hi"), call))).contains("<tool_call>get_weather"));
  }

  /** A map in the given key order (Map.of's order changes from run to run, and templates print keys in order). */
  private static Map<String, Object> ordered(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return m;
  }

  private static void assertMessage(Executable call, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should mention '" + part + "'");
    }
  }
}
