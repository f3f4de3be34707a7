package io.autoglm.tokenizer;

import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.ModelLoadException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input fails early with a message that names the value and what was expected. */
class BadInputTest {

  @Test
  void emptyMessageList() {
    assertMessage(() -> ChatPrompt.of(List.of()), "messages is empty", "at least one message");
    assertMessage(() -> ChatPrompt.fromJson("{\"messages\": []}"), "messages is empty");
  }

  @Test
  void unknownRole() {
    assertMessage(() -> new ChatMessage("wizard", "hi"), "'wizard'", "system, user, assistant, observation, tool");
    assertMessage(() -> ChatPrompt.fromJson("{\"messages\": [{\"content\": \"hi\"}]}"), "'null'");
  }

  @Test
  void loneSurrogates() {
    assertMessage(() -> ChatMessage.user("ok \uD83D then"), "user message content", "U+D83D", "index 3");
    assertMessage(() -> ChatMessage.user("x\uDC00"), "U+DC00");
    assertMessage(() -> new ChatMessage("assistant", "", Map.of("reasoning_content", "\uD800")),
        "assistant message.reasoning_content", "U+D800");
    assertMessage(() -> new ChatPrompt(List.of(ChatMessage.user("a")), List.of(Map.of("name", "\uDFFF")), true,
        Map.of()), "tools[0].name", "U+DFFF");
    assertMessage(() -> ChatMessage.user("fine 😀").withField("x", List.of("\uD800")), "x[0]");
  }

  @Test
  void encodeRejectsLoneSurrogatesAndDecodeRejectsUnknownIds() {
    try (GlmTokenizer t = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf"))) {
      assertMessage(() -> t.encode("a\uD800b"), "text", "U+D800", "index 1");
      assertMessage(() -> t.decode(new int[] {5, 151_343}), "token id 151343", "0 <= id < 151343");
      // streaming decode of a generated id is never fatal: an id with no text adds nothing, the stream goes on
      var d = t.newDetokenizer(false);
      org.junit.jupiter.api.Assertions.assertEquals("", d.add(-1));
      org.junit.jupiter.api.Assertions.assertEquals("", d.add(151_343));
      org.junit.jupiter.api.Assertions.assertEquals(t.decode(new int[] {5}, false), d.add(5));
    }
  }

  @Test
  void reservedKwargsAndTemplateRaise() {
    assertMessage(() -> ChatPrompt.of(List.of(ChatMessage.user("a"))).withKwarg("messages", List.of()),
        "'messages' is reserved");
    ChatTemplate t = ChatTemplate.of("{% if messages[0].role != 'system' %}"
        + "{{ raise_exception('first must be system') }}{% endif %}ok");
    assertMessage(() -> t.render(ChatPrompt.of(List.of(ChatMessage.user("a")))), "rejected", "first must be system");
  }

  @Test
  void missingTokenizerFiles() {
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> GlmTokenizer.load(Fixtures.tokenizers("glm-4.5")));
    assertTrue(e.getMessage().contains("expected tokenizer.json"), e.getMessage());
    e = assertThrows(ModelLoadException.class, () -> ChatTemplate.load(Path.of("/nonexistent-dir")));
    assertTrue(e.getMessage().contains("chat_template.jinja"), e.getMessage());
  }

  private static void assertMessage(Executable call, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should mention '" + part + "'");
    }
  }
}
