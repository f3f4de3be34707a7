package io.autoglm.answer;

import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The parser against the template's own renderings (transformers' goldens: each rendered assistant call parses back
 * to the call it was rendered from) and against itself (every split of a text streams to the whole-text parse).
 */
class AnswerParserTest {
  private static final Path GLM45 = Fixtures.root().resolve("tokenizers/glm-4.5");

  private static String glm45Template() throws IOException {
    return Files.readString(GLM45.resolve("chat_template.jinja"));
  }

  private static String glm4Template() throws IOException {
    return JsonParser.parseString(Files.readString(Fixtures.root().resolve(
        "tokenizers/glm-4-9b-chat-hf/tokenizer_config.json"))).getAsJsonObject().get("chat_template").getAsString();
  }

  private static List<JsonObject> goldenCases() throws IOException {
    List<JsonObject> cases = new ArrayList<>();
    try (InputStream in = AnswerParserTest.class.getResourceAsStream("/io/autoglm/tokenizer/chat_goldens.json")) {
      for (JsonElement e : JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
          .getAsJsonObject().getAsJsonArray("cases")) {
        cases.add(e.getAsJsonObject());
      }
    }
    for (JsonElement e : JsonParser.parseString(Files.readString(GLM45.resolve("golden_chat.json")))
        .getAsJsonObject().getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      c.addProperty("template", "glm-4.5");
      cases.add(c);
    }
    return cases;
  }

  /** Each assistant turn of a GLM-4.5 golden that has tool_calls: its rendered text parses back to those calls. */
  @Test
  void everyRenderedGlm45CallParsesBack() throws IOException {
    int checked = 0;
    for (JsonObject c : goldenCases()) {
      if (!"glm-4.5".equals(c.get("template").getAsString())) {
        continue;
      }
      String text = c.get("text").getAsString();
      List<Map<String, Object>> tools = tools(c);
      AnswerFormat format = AnswerFormat.detect(glm45Template(), "", tools, true);
      assertEquals(tools.isEmpty() ? AnswerFormat.Syntax.NONE : AnswerFormat.Syntax.GLM45_XML, format.syntax());
      int assistantAt = -1;
      for (JsonElement m : c.getAsJsonArray("messages")) {
        JsonObject msg = m.getAsJsonObject();
        if (!"assistant".equals(msg.get("role").getAsString())) {
          continue;
        }
        assistantAt = text.indexOf("<|assistant|>", assistantAt + 1);
        String turn = turnText(text, assistantAt + "<|assistant|>".length());
        if (!msg.has("tool_calls")) {
          continue;
        }
        ParsedAnswer parsed = AnswerParser.parse(format, turn, counter());
        JsonArray expected = msg.getAsJsonArray("tool_calls");
        assertEquals(expected.size(), parsed.toolCalls().size(), c.get("name") + ": " + turn);
        for (int i = 0; i < expected.size(); i++) {
          JsonObject f = expected.get(i).getAsJsonObject().getAsJsonObject("function");
          ToolCall call = parsed.toolCalls().get(i);
          assertEquals(f.get("name").getAsString(), call.name());
          assertEquals(f.get("arguments"), JsonParser.parseString(call.argumentsJson()), c.get("name") + ": " + turn);
          checked++;
        }
        assertEquals(msg.get("content").getAsString(), parsed.content());
        assertStreamsLikeWhole(format, turn);
      }
    }
    assertTrue(checked >= 3, "golden calls checked: " + checked);
  }

  /** The glm-4-9b-chat golden's assistant call ({@code NAME\n{JSON}}) parses back to its metadata and content. */
  @Test
  void renderedGlm4CallParsesBack() throws IOException {
    for (JsonObject c : goldenCases()) {
      if (!c.get("name").getAsString().equals("glm-4-9b-chat-hf/tools-call-and-result")) {
        continue;
      }
      JsonObject system = c.getAsJsonArray("messages").get(0).getAsJsonObject();
      List<Map<String, Object>> tools = toolList(system.getAsJsonArray("tools"));
      AnswerFormat format = AnswerFormat.detect(glm4Template(), "", tools, true);
      assertEquals(AnswerFormat.Syntax.GLM4_JSON, format.syntax());
      String text = c.get("text").getAsString();
      int at = text.indexOf("<|assistant|>") + "<|assistant|>".length();
      String turn = turnText(text, at);
      ParsedAnswer parsed = AnswerParser.parse(format, turn, counter());
      JsonObject msg = c.getAsJsonArray("messages").get(2).getAsJsonObject();
      assertEquals(1, parsed.toolCalls().size(), turn);
      assertEquals(msg.get("metadata").getAsString(), parsed.toolCalls().get(0).name());
      assertEquals(JsonParser.parseString(msg.get("content").getAsString()),
          JsonParser.parseString(parsed.toolCalls().get(0).argumentsJson()));
      assertEquals("", parsed.content());
      assertStreamsLikeWhole(format, turn);
      return;
    }
    throw new AssertionError("golden case glm-4-9b-chat-hf/tools-call-and-result is missing");
  }

  /** The text of a turn: from {@code from} to the next {@code <|role|>} marker or the end. */
  private static String turnText(String text, int from) {
    int end = text.length();
    for (String marker : new String[] {"<|observation|>", "<|user|>", "<|assistant|>", "<|system|>"}) {
      int i = text.indexOf(marker, from);
      if (i >= 0) {
        end = Math.min(end, i);
      }
    }
    return text.substring(from, end);
  }

  static List<Map<String, Object>> tools(JsonObject c) {
    return c.has("tools") && c.get("tools").isJsonArray() ? toolList(c.getAsJsonArray("tools")) : List.of();
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> toolList(JsonArray a) {
    List<Map<String, Object>> tools = new ArrayList<>();
    for (JsonElement t : a) {
      tools.add(new com.google.gson.Gson().fromJson(t, Map.class));
    }
    return tools;
  }

  static Supplier<String> counter() {
    int[] n = {0};
    return () -> "call_" + n[0]++;
  }

  /** Streamed at every split into two and three pieces, and at random points, the deltas rebuild the whole parse. */
  static void assertStreamsLikeWhole(AnswerFormat format, String text) {
    ParsedAnswer whole = AnswerParser.parse(format, text, counter());
    for (int i = 0; i <= text.length(); i++) {
      assertEquals(whole, streamed(format, List.of(text.substring(0, i), text.substring(i))), "split at " + i);
      for (int j = i; j <= text.length() && text.length() <= 400; j += 7) {
        assertEquals(whole, streamed(format, List.of(text.substring(0, i), text.substring(i, j),
            text.substring(j))), "split at " + i + ", " + j);
      }
    }
    Random random = new Random(20);
    for (int round = 0; round < 50; round++) {
      List<String> pieces = new ArrayList<>();
      int at = 0;
      while (at < text.length()) {
        int n = Math.min(text.length() - at, 1 + random.nextInt(6));
        pieces.add(text.substring(at, at + n));
        at += n;
      }
      assertEquals(whole, streamed(format, pieces), "random pieces " + pieces);
    }
    List<String> chars = new ArrayList<>();
    text.codePoints().forEach(cp -> chars.add(new String(Character.toChars(cp))));
    assertEquals(whole, streamed(format, chars), "one character at a time");
  }

  /** Rebuilds an answer from the deltas alone. */
  static ParsedAnswer streamed(AnswerFormat format, List<String> pieces) {
    AnswerParser p = new AnswerParser(format, counter());
    List<AnswerDelta> deltas = new ArrayList<>();
    for (String piece : pieces) {
      deltas.addAll(p.feed(piece));
    }
    deltas.addAll(p.finish());
    StringBuilder content = new StringBuilder();
    StringBuilder reasoning = null;
    List<String[]> calls = new ArrayList<>();
    for (AnswerDelta d : deltas) {
      if (d instanceof AnswerDelta.Content c) {
        assertFalse(c.text().isEmpty(), "empty content delta");
        content.append(c.text());
      } else if (d instanceof AnswerDelta.Reasoning r) {
        reasoning = reasoning == null ? new StringBuilder() : reasoning;
        reasoning.append(r.text());
      } else if (d instanceof AnswerDelta.ToolCallStart s) {
        assertEquals(calls.size(), s.index());
        calls.add(new String[] {s.id(), s.name(), ""});
      } else if (d instanceof AnswerDelta.ToolCallArguments a) {
        calls.get(a.index())[2] += a.fragment();
      }
    }
    List<ToolCall> toolCalls = calls.stream().map(c -> new ToolCall(c[0], c[1], c[2])).toList();
    Optional<String> thought = p.result().reasoningContent();
    // reasoning deltas may be absent for an empty block; the block's presence comes from the result
    assertEquals(thought.orElse(""), reasoning == null ? "" : reasoning.toString());
    return new ParsedAnswer(content.toString(), thought, toolCalls);
  }
}
