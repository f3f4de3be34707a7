package io.autoglm.tokenizer;

import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Chat renderings equal transformers' {@code apply_chat_template(tokenize=False)}:
 * <ul>
 *   <li>glm-4.5/golden_chat.json: {@code glm45-*} cases use glm-4.5/chat_template.jinja, {@code glm4-*} cases
 *       glm-4-9b-chat's template (tokenizer_config.json), per its SOURCE.md;
 *   <li>chat_goldens.json (test resource, written by tools/make_chat_goldens.py with transformers 5.17): list
 *       content, tools, tool calls and results, control characters, for glm-4-9b-chat-hf and GLM-4.5. Each case is
 *       rendered three ways: as given; through the special-token-hiding path that encodeChat takes; and, where
 *       transformers was given glm-4-9b-chat's tools message, with the tools as the prompt's tools instead.
 * </ul>
 */
class ChatTemplateGoldenTest {
  private static final ChatTemplate GLM45 = ChatTemplate.load(Fixtures.tokenizers("glm-4.5"));
  private static final ChatTemplate GLM4 = ChatTemplate.load(Fixtures.tokenizers("glm-4-9b-chat"));
  private static GlmTokenizer glm4Tokenizer;

  @BeforeAll
  static void load() {
    glm4Tokenizer = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf"));
  }

  @AfterAll
  static void close() {
    glm4Tokenizer.close();
  }

  @TestFactory
  List<DynamicTest> everyCaseRendersExactly() {
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonElement e : Fixtures.json("glm-4.5", "golden_chat.json").getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      String name = c.get("name").getAsString();
      ChatTemplate template = name.startsWith("glm45-") ? GLM45 : GLM4;
      tests.add(DynamicTest.dynamicTest(name, () ->
          assertEquals(c.get("text").getAsString(), template.render(ChatPrompt.fromJson(c.toString())))));
    }
    return tests;
  }

  @TestFactory
  List<DynamicTest> transformersGoldensRenderExactly() {
    List<DynamicTest> tests = new ArrayList<>();
    Set<String> glm45Specials = specials(Fixtures.json("glm-4.5", "tokenizer_config.json"));
    for (JsonElement e : Fixtures.resourceJson(getClass(), "chat_goldens.json").getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      String name = c.get("name").getAsString();
      String expected = c.get("text").getAsString();
      ChatPrompt prompt = ChatPrompt.fromJson(c.toString());
      boolean glm45 = c.get("template").getAsString().equals("glm-4.5");
      ChatTemplate template = glm45 ? GLM45 : glm4Tokenizer.chatTemplate().orElseThrow();
      tests.add(DynamicTest.dynamicTest(name, () -> assertEquals(expected, template.render(prompt))));
      tests.add(DynamicTest.dynamicTest(name + " (special tokens hidden)", () -> {
        if (glm45) {
          assertEquals(expected, joined(template.renderSegments(prompt, glm45Specials)));
        } else {
          EncodedPrompt p = glm4Tokenizer.encodeChat(prompt);
          assertEquals(expected, p.text());
          assertEquals(expected, glm4Tokenizer.decode(p.ids()));
        }
      }));
      toolsAsPromptTools(prompt).ifPresent(moved -> tests.add(DynamicTest.dynamicTest(name + " (prompt tools)",
          () -> assertEquals(expected, template.render(moved)))));
    }
    return tests;
  }

  /** The prompt with glm-4-9b-chat's leading tools message {@code {system, "", tools}} turned into prompt tools. */
  @SuppressWarnings("unchecked")
  private static Optional<ChatPrompt> toolsAsPromptTools(ChatPrompt p) {
    ChatMessage first = p.messages().get(0);
    if (!first.role().equals("system") || !first.content().joined().isEmpty() || first.fields().size() != 1
        || !first.fields().containsKey("tools")) {
      return Optional.empty();
    }
    List<Map<String, Object>> tools = (List<Map<String, Object>>) first.fields().get("tools");
    return Optional.of(new ChatPrompt(p.messages().subList(1, p.messages().size()), tools,
        p.addGenerationPrompt(), p.templateKwargs()));
  }

  private static Set<String> specials(JsonObject tokenizerConfig) {
    return tokenizerConfig.getAsJsonObject("added_tokens_decoder").entrySet().stream()
        .map(e -> e.getValue().getAsJsonObject())
        .filter(t -> t.get("special").getAsBoolean())
        .map(t -> t.get("content").getAsString())
        .collect(Collectors.toSet());
  }

  private static String joined(List<ChatTemplate.Segment> segments) {
    return segments.stream().map(ChatTemplate.Segment::text).collect(Collectors.joining());
  }
}
