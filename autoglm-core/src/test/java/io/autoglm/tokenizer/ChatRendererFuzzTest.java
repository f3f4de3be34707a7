package io.autoglm.tokenizer;

import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.fuzz.Fuzz;
import io.autoglm.fuzz.FuzzHarness;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the chat renderer (issue 16) with arbitrary conversations: any Unicode, control characters, template-looking
 * text ({@code {{}, {@code {%}, {@code <|user|>}, the placeholder characters U+E000/U+E001), empty and large strings
 * (up to ~40k characters), text parts, tools. Invariants, for glm-4-9b-chat's and GLM-4.5's templates:
 * <ul>
 *   <li>only IllegalArgumentException escapes, and only for input that is invalid (a lone surrogate; for JSON
 *       content, whatever ChatPrompt.fromJson refuses); rendering a valid prompt throws nothing, nor hangs;
 *   <li>the text encodeChat renders (special tokens hidden) equals the plain rendering, and decodes back from its
 *       ids;
 *   <li>every user and system text appears verbatim in the prompt (as a string for glm-4-9b-chat, which prints a
 *       list of parts as Python's repr; as the joined parts for GLM-4.5);
 *   <li>the special tokens in the encoding are the template's own: as many as for the same conversation with every
 *       text replaced by "x" (nothing in a message turns into a marker).
 * </ul>
 * Runs on the project's seeded {@link Fuzz} runner: bounded tries and seconds per property, each printing its
 * count, time and seed ("FUZZ ...").
 */
class ChatRendererFuzzTest {
  private static final List<String> TRICKY = List.of("{{", "}}", "{%", "%}", "{#", "#}", "{{ messages }}",
      "{% endfor %}", "<|user|>", "<|assistant|>", "<|system|>", "<|observation|>", "<|endoftext|>", "[gMASK]",
      "<sop>", "/nothink", "<think>", "</think>", "<tool_call>", "\uE000", "\uE001", "\uE0000\uE001", "\uE0001\uE001",
      "\\u0000", "\u0000", "'", "\"", "\\", "\n", "\r\n", "\t", " ", "\u00a0", "\u2028", "\uFEFF", "\u200b", "😀",
      "中");
  private static final List<String> ROLES = List.of("system", "user", "assistant", "tool");
  private static final List<String> LONE_SURROGATES = List.of("\uD800", "\uDFFF", "a\uDC00");
  private static final String CONTROL = controlChars();
  private static final String ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
  private static final List<String> SCALARS = List.of("null", "true", "0", "-1.5e300", "\"\"", "\"t\\u0000\"",
      "\"text\"", "\"image_url\"", "{}", "[]", "\"\\ud800\"");
  private static final List<String> PART_TYPES = List.of("\"text\"", "\"image_url\"", "\"input_audio\"", "1",
      "null");
  private static final int TRIES = 1000;
  private static GlmTokenizer glm4;
  private static ChatTemplate glm45;
  private static Set<String> glm45Specials;

  @BeforeAll
  static void load() {
    glm4 = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf"));
    glm45 = ChatTemplate.load(Fixtures.tokenizers("glm-4.5"));
    glm45Specials = Fixtures.json("glm-4.5", "tokenizer_config.json").getAsJsonObject("added_tokens_decoder")
        .entrySet().stream().map(e -> e.getValue().getAsJsonObject()).filter(t -> t.get("special").getAsBoolean())
        .map(t -> t.get("content").getAsString()).collect(Collectors.toSet());
  }

  @AfterAll
  static void close() {
    glm4.close();
  }

  /** One generated message: a string content, or parts when {@code parts} is non-null. */
  record Msg(String role, String text, List<String> parts, String metadata) {}

  record Conversation(List<Msg> messages, List<String> toolTexts, boolean addGenerationPrompt) {}

  @Test
  void glm4ChatTemplate() {
    Fuzz.forAll("chat glm-4-9b-chat template", TRIES, IllegalArgumentException.class,
        ChatRendererFuzzTest::conversation, (h, c) -> h.run(() -> checkGlm4(c), describe(c)));
  }

  @Test
  void glm45ChatTemplate() {
    Fuzz.forAll("chat GLM-4.5 template", TRIES, IllegalArgumentException.class,
        ChatRendererFuzzTest::conversation, (h, c) -> h.run(() -> checkGlm45(c), describe(c)));
  }

  /** Content, parts and fields given as arbitrary JSON: a prompt or an IllegalArgumentException, nothing else. */
  @Test
  void arbitraryJsonContent() {
    Fuzz.forAll("chat arbitrary JSON content", TRIES, IllegalArgumentException.class, r -> {
      String content = jsonValue(r);
      String field = jsonValue(r);
      return "{\"messages\": [{\"role\": \"user\", \"content\": " + content + ", \"extra\": " + field
          + "}], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": " + field
          + "}}]}";
    }, (h, json) -> h.run(() -> {
      ChatPrompt prompt = ChatPrompt.fromJson(json);
      return valid(() -> assertEquals(glm45.render(prompt), glm45.renderSegments(prompt, glm45Specials).stream()
          .map(ChatTemplate.Segment::text).collect(Collectors.joining())));
    }, () -> json));
  }

  private static Void checkGlm4(Conversation c) {
    ChatPrompt prompt = promptOrInvalid(c, false);
    return valid(() -> {
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
    });
  }

  private static Void checkGlm45(Conversation c) {
    ChatPrompt prompt = promptOrInvalid(c, true);
    return valid(() -> {
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
    });
  }

  /** Runs the checks of a valid prompt, where an IllegalArgumentException is a broken contract, not a refusal. */
  private static Void valid(Runnable checks) {
    try {
      checks.run();
      return null;
    } catch (IllegalArgumentException e) {
      throw new AssertionError("a valid prompt was refused: " + e.getMessage(), e);
    }
  }

  /**
   * The prompt for {@code c}; when its text is invalid (a lone surrogate), the IllegalArgumentException naming that,
   * rethrown for the harness to count as a refusal. Any other refusal fails the property.
   */
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
      throw e;
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

  /** The conversation for a failure message, cut to 2,000 chars (a large text would bury the rest). */
  private static Supplier<String> describe(Conversation c) {
    return () -> {
      String s = c.toString();
      return s.length() <= 2000 ? s : s.substring(0, 2000) + "… (" + s.length() + " chars)";
    };
  }

  /** 1–6 messages, up to 2 tool texts; a message has parts 2 times in 5 and metadata 3 times in 20. */
  private static Conversation conversation(SplittableRandom r) {
    return new Conversation(list(r, 1, 6, ChatRendererFuzzTest::message), list(r, 0, 2, ChatRendererFuzzTest::text),
        r.nextBoolean());
  }

  private static Msg message(SplittableRandom r) {
    String role = Fuzz.pick(r, ROLES);
    String text = text(r);
    List<String> parts = r.nextInt(5) < 3 ? null : list(r, 0, 3, ChatRendererFuzzTest::text);
    return new Msg(role, text, parts, r.nextInt(20) < 17 ? null : text(r));
  }

  /**
   * Up to 5 fragments, weighted 5:5:3:3:1:1: any code points (no surrogates), template-looking pieces, control
   * characters, letters and digits, rarely a large block (1k–40k chars), rarely a lone surrogate (refused by name).
   */
  private static String text(SplittableRandom r) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0, n = r.nextInt(6); i < n; i++) {
      int k = r.nextInt(18);
      sb.append(k < 5 ? codePoints(r, 6) : k < 10 ? Fuzz.pick(r, TRICKY) : k < 13 ? Fuzz.chars(r, CONTROL, 3)
          : k < 16 ? Fuzz.chars(r, ALNUM, 10) : k < 17 ? "{{ x }} <|user|> ".repeat(r.nextInt(1_000, 40_001) / 16)
          : Fuzz.pick(r, LONE_SURROGATES));
    }
    return sb.toString();
  }

  private static String codePoints(SplittableRandom r, int max) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0, n = r.nextInt(max + 1); i < n; i++) {
      int cp = r.nextInt(0x10FFFF + 1 - 0x800);
      sb.appendCodePoint(cp < 0xD800 ? cp : cp + 0x800); // skips the surrogate range U+D800..U+DFFF
    }
    return sb.toString();
  }

  private static String controlChars() {
    StringBuilder sb = new StringBuilder();
    for (char ch = 0; ch < 0x20; ch++) {
      sb.append(ch);
    }
    return sb.toString();
  }

  private static <T> List<T> list(SplittableRandom r, int min, int max, Function<SplittableRandom, T> item) {
    List<T> out = new ArrayList<>();
    for (int i = 0, n = r.nextInt(min, max + 1); i < n; i++) {
      out.add(item.apply(r));
    }
    return out;
  }

  /** JSON for a content or a field, weighted 3:3:1:1: a scalar, a list of parts, a list of scalars, an object. */
  private static String jsonValue(SplittableRandom r) {
    int k = r.nextInt(8);
    if (k < 3) {
      return Fuzz.pick(r, SCALARS);
    } else if (k < 6) {
      return "[" + String.join(", ", list(r, 0, 3, p -> "{\"type\": " + Fuzz.pick(p, PART_TYPES) + ", \"text\": "
          + Fuzz.pick(p, SCALARS) + "}")) + "]";
    } else if (k < 7) {
      return "[" + String.join(", ", list(r, 0, 3, p -> Fuzz.pick(p, SCALARS))) + "]";
    }
    return "{\"k\": " + Fuzz.pick(r, SCALARS) + "}";
  }
}
