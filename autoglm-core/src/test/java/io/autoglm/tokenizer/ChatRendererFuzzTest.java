package io.autoglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Fuzzes the chat renderer (issue 16) with arbitrary conversations: any Unicode, control characters, template-looking
 * text ({@code {{}, {@code {%}, {@code <|user|>}, the placeholder characters U+E000/U+E001), empty and large strings
 * (up to ~40k characters), text parts, tools. Invariants, for glm-4-9b-chat's and GLM-4.5's templates:
 * <ul>
 *   <li>only IllegalArgumentException escapes, and only for input that is invalid (a lone surrogate);
 *   <li>the text encodeChat renders (special tokens hidden) equals the plain rendering, and decodes back from its
 *       ids;
 *   <li>every user and system text appears verbatim in the prompt (as a string for glm-4-9b-chat, which prints a
 *       list of parts as Python's repr; as the joined parts for GLM-4.5);
 *   <li>the special tokens in the encoding are the template's own: as many as for the same conversation with every
 *       text replaced by "x" (nothing in a message turns into a marker).
 * </ul>
 * Tries are bounded ({@code @Property(tries = ...)}) and jqwik prints the count and the seed of each property.
 */
class ChatRendererFuzzTest {
  private static final List<String> TRICKY = List.of("{{", "}}", "{%", "%}", "{#", "#}", "{{ messages }}",
      "{% endfor %}", "<|user|>", "<|assistant|>", "<|system|>", "<|observation|>", "<|endoftext|>", "[gMASK]",
      "<sop>", "/nothink", "<think>", "</think>", "<tool_call>", "\uE000", "\uE001", "\uE0000\uE001", "\uE0001\uE001",
      "\\u0000", "\u0000", "'", "\"", "\\", "\n", "\r\n", "\t", " ", "\u00a0", "\u2028", "\uFEFF", "\u200b", "😀",
      "中");
  private static GlmTokenizer glm4;
  private static ChatTemplate glm45;
  private static Set<String> glm45Specials;

  @BeforeContainer
  static void load() {
    glm4 = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf"));
    glm45 = ChatTemplate.load(Fixtures.tokenizers("glm-4.5"));
    glm45Specials = Fixtures.json("glm-4.5", "tokenizer_config.json").getAsJsonObject("added_tokens_decoder")
        .entrySet().stream().map(e -> e.getValue().getAsJsonObject()).filter(t -> t.get("special").getAsBoolean())
        .map(t -> t.get("content").getAsString()).collect(Collectors.toSet());
  }

  @AfterContainer
  static void close() {
    glm4.close();
  }

  /** One generated message: a string content, or parts when {@code parts} is non-null. */
  record Msg(String role, String text, List<String> parts, String metadata) {}

  record Conversation(List<Msg> messages, List<String> toolTexts, boolean addGenerationPrompt) {}

  @Property(tries = 300)
  void glm4ChatTemplate(@ForAll("conversations") Conversation c) {
    ChatPrompt prompt = promptOrInvalid(c, false);
    if (prompt == null) {
      return;
    }
    EncodedPrompt p = glm4.encodeChat(prompt);
    assertEquals(glm4.chatTemplate().orElseThrow().render(prompt), p.text());
    assertEquals(p.text(), glm4.decode(p.ids()));
    for (Msg m : c.messages()) {
      if (m.parts() == null && (m.role().equals("user") || m.role().equals("system"))) {
        assertTrue(p.text().contains(m.text()), () -> "prompt lacks " + m.role() + " text: " + m.text());
      }
    }
    ChatPrompt neutral = promptOrInvalid(neutral(c), false);
    assertEquals(specials(glm4.encodeChat(neutral).ids()), specials(p.ids()), p.text());
  }

  @Property(tries = 300)
  void glm45ChatTemplate(@ForAll("conversations") Conversation c) {
    ChatPrompt prompt = promptOrInvalid(c, true);
    if (prompt == null) {
      return;
    }
    List<ChatTemplate.Segment> segments = glm45.renderSegments(prompt, glm45Specials);
    String text = segments.stream().map(ChatTemplate.Segment::text).collect(Collectors.joining());
    assertEquals(glm45.render(prompt), text);
    for (Msg m : c.messages()) {
      if (m.role().equals("user") || m.role().equals("system")) {
        String visible = m.parts() == null ? m.text() : String.join("", m.parts());
        assertTrue(text.contains(visible), () -> "prompt lacks " + m.role() + " text: " + visible);
      }
    }
    long own = glm45.renderSegments(promptOrInvalid(neutral(c), true), glm45Specials).stream()
        .filter(ChatTemplate.Segment::special).count();
    assertEquals(own, segments.stream().filter(ChatTemplate.Segment::special).count(), text);
  }

  /** Content, parts and fields given as arbitrary JSON: a prompt or an IllegalArgumentException, nothing else. */
  @Property(tries = 300)
  void arbitraryJsonContent(@ForAll("jsonValues") String content, @ForAll("jsonValues") String field) {
    String json = "{\"messages\": [{\"role\": \"user\", \"content\": " + content + ", \"extra\": " + field
        + "}], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": " + field
        + "}}]}";
    ChatPrompt prompt;
    try {
      prompt = ChatPrompt.fromJson(json);
    } catch (IllegalArgumentException expected) {
      return;
    }
    assertEquals(glm45.render(prompt), glm45.renderSegments(prompt, glm45Specials).stream()
        .map(ChatTemplate.Segment::text).collect(Collectors.joining()));
  }

  /** The prompt for {@code c}, or null when its text is invalid (a lone surrogate), which must be refused by name. */
  private static ChatPrompt promptOrInvalid(Conversation c, boolean glm45Roles) {
    try {
      List<ChatMessage> messages = new ArrayList<>();
      for (Msg m : c.messages()) {
        String role = !glm45Roles && m.role().equals("tool") ? "observation" : m.role();
        ChatMessage.Content content = m.parts() == null ? ChatMessage.Content.text(m.text())
            : new ChatMessage.Content.Parts(m.parts());
        Map<String, Object> fields = m.metadata() == null ? Map.of() : Map.of("metadata", m.metadata());
        messages.add(new ChatMessage(role, content, fields));
      }
      List<Map<String, Object>> tools = new ArrayList<>();
      for (String t : c.toolTexts()) {
        Map<String, Object> function = new LinkedHashMap<>();
        function.put("name", t);
        function.put("description", t);
        function.put("parameters", Map.of("type", "object"));
        tools.add(Map.of("type", "function", "function", function));
      }
      return new ChatPrompt(messages, tools, c.addGenerationPrompt(), Map.of());
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage().contains("lone UTF-16 surrogate"), e.getMessage());
      return null;
    }
  }

  /** {@code c} with every non-empty text (content, part, metadata, tool) replaced by "x". */
  private static Conversation neutral(Conversation c) {
    List<Msg> messages = c.messages().stream().map(m -> new Msg(m.role(), x(m.text()),
        m.parts() == null ? null : m.parts().stream().map(ChatRendererFuzzTest::x).collect(Collectors.toList()),
        m.metadata() == null ? null : x(m.metadata()))).collect(Collectors.toList());
    return new Conversation(messages, c.toolTexts().stream().map(ChatRendererFuzzTest::x)
        .collect(Collectors.toList()), c.addGenerationPrompt());
  }

  private static String x(String s) {
    return s.isEmpty() ? s : "x";
  }

  private static long specials(int[] ids) {
    return Arrays.stream(ids).filter(id -> id >= 151_329).count(); // glm-4-9b-chat's 14 specials: 151329..151342
  }

  @Provide
  Arbitrary<Conversation> conversations() {
    Arbitrary<Msg> message = Combinators.combine(
        Arbitraries.of("system", "user", "assistant", "tool"), text(),
        text().list().ofMaxSize(3).injectNull(0.6), text().injectNull(0.85)).as(Msg::new);
    return Combinators.combine(message.list().ofMinSize(1).ofMaxSize(6), text().list().ofMaxSize(2),
        Arbitraries.of(true, false)).as(Conversation::new);
  }

  /** Text from fragments: any code point, control characters, template-looking pieces, rarely a large block. */
  private static Arbitrary<String> text() {
    Arbitrary<String> codePoint = Arbitraries.integers().between(0, 0x10FFFF)
        .filter(cp -> cp < 0xD800 || cp > 0xDFFF).map(Character::toString);
    Arbitrary<String> fragment = Arbitraries.frequencyOf(
        Tuple.of(5, codePoint.list().ofMaxSize(6).map(l -> String.join("", l))),
        Tuple.of(5, Arbitraries.of(TRICKY)),
        Tuple.of(3, Arbitraries.strings().withCharRange('\u0000', '\u001f').ofMaxLength(3)),
        Tuple.of(3, Arbitraries.strings().alpha().numeric().withChars(' ').ofMaxLength(10)),
        Tuple.of(1, Arbitraries.integers().between(1_000, 40_000).map(n -> "{{ x }} <|user|> ".repeat(n / 16))),
        Tuple.of(1, Arbitraries.of("\uD800", "\uDFFF", "a\uDC00"))); // lone surrogates: refused by name
    return fragment.list().ofMaxSize(5).map(l -> String.join("", l));
  }

  @Provide
  Arbitrary<String> jsonValues() {
    Arbitrary<String> scalar = Arbitraries.of("null", "true", "0", "-1.5e300", "\"\"", "\"t\\u0000\"", "\"text\"",
        "\"image_url\"", "{}", "[]", "\"\\ud800\"");
    Arbitrary<String> part = Combinators.combine(Arbitraries.of("\"text\"", "\"image_url\"", "\"input_audio\"", "1",
        "null"), scalar).as((type, value) -> "{\"type\": " + type + ", \"text\": " + value + "}");
    return Arbitraries.frequencyOf(
        Tuple.of(3, scalar),
        Tuple.of(3, part.list().ofMaxSize(3).map(l -> "[" + String.join(", ", l) + "]")),
        Tuple.of(1, scalar.list().ofMaxSize(3).map(l -> "[" + String.join(", ", l) + "]")),
        Tuple.of(1, scalar.map(v -> "{\"k\": " + v + "}")));
  }
}
