package io.autoglm.grammar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.answer.AnswerFormat;
import io.autoglm.answer.AnswerParser;
import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The GLM-4 forced-call grammar on the real GLM-4 vocabulary. References: the answer parser (the call must parse
 * back to one call of an allowed tool) and a standard validator on its arguments; hand-written calls the parser
 * and validator accept or refuse.
 */
class ToolCallGrammarTest {
  private static final String WEATHER = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\","
      + "\"maxLength\":8},\"unit\":{\"enum\":[\"c\",\"f\"]}},\"required\":[\"city\"]}";
  private static final List<Map<String, Object>> TOOLS = List.of(
      Map.of("type", "function", "function", Map.of("name", "get_weather",
          "parameters", new com.google.gson.Gson().fromJson(WEATHER, Map.class))),
      Map.of("type", "function", "function", Map.of("name", "get_time")));
  private static final AnswerFormat GLM4 = new AnswerFormat(AnswerFormat.Syntax.GLM4_JSON, false, false, TOOLS);
  private final TokenVocabulary vocab = Vocabularies.glm4();

  @Test
  void randomWalksEndInOneParsedCallWithValidArguments() {
    Random rnd = new Random(11);
    SchemaOracle weather = new SchemaOracle(WEATHER);
    List<String> seen = new ArrayList<>();
    for (int walk = 0; walk < 40; walk++) {
      String text = walk(JsonGrammar.toolCallGlm4(TOOLS, Optional.empty()).matcher(vocab), rnd);
      ParsedAnswer a = AnswerParser.parse(GLM4, text);
      assertEquals(1, a.toolCalls().size(), text);
      assertEquals("", a.content(), text);
      ToolCall c = a.toolCalls().get(0);
      if (c.name().equals("get_weather")) {
        assertTrue(weather.valid(c.argumentsJson()), text + " " + weather.errors(c.argumentsJson()));
      } else {
        assertEquals("get_time", c.name());
        assertEquals("{}", c.argumentsJson(), "a tool without parameters takes none");
      }
      seen.add(c.name());
    }
    assertTrue(seen.contains("get_weather") && seen.contains("get_time"), seen.toString());
  }

  @Test
  void theNamedToolAloneIsAcceptedAndOnlyEosFollowsTheCall() {
    JsonGrammar named = JsonGrammar.toolCallGlm4(TOOLS, Optional.of("get_weather"));
    GrammarMatcher m = named.matcher(vocab);
    for (int id : Vocabularies.tokenizer().encode("get_weather\n{\"city\":\"Paris\",\"unit\":\"c\"}")) {
      m.accept(id);
    }
    assertTrue(m.isComplete());
    List<Integer> allowed = ids(m.allowedTokens());
    assertEquals(Vocabularies.EOS.stream().sorted().toList(), allowed.stream().sorted().toList());
    assertFalse(readsWhole(named, "get_time\n{}"), "another tool than the named one");
    assertFalse(readsWhole(named, "get_weather\n{\"city\":3}"), "arguments against the schema");
    assertFalse(readsWhole(named, "get_weather\n{\"unit\":\"c\"}"), "a required argument missing");
    assertTrue(readsWhole(JsonGrammar.toolCallGlm4(TOOLS, Optional.empty()), "get_time\n{}"));
  }

  @Test
  void badToolsAreRefusedNamingThem() {
    Map<String, Object> params = Map.of("type", "object", "properties",
        Map.of("x", Map.of("type", "string", "pattern", "a+")));
    List<Map<String, Object>> bad = List.of(Map.of("type", "function", "function",
        Map.of("name", "f", "parameters", params)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JsonGrammar.toolCallGlm4(bad, Optional.empty()));
    assertTrue(e.getMessage().contains("tool 'f'") && e.getMessage().contains("'pattern'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> JsonGrammar.toolCallGlm4(TOOLS, Optional.of("nope")));
    assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
  }

  private boolean readsWhole(JsonGrammar g, String text) {
    GrammarMatcher m = g.matcher(vocab);
    try {
      for (int id : Vocabularies.tokenizer().encode(text)) {
        m.accept(id);
      }
    } catch (IllegalArgumentException e) {
      return false;
    }
    return m.isComplete();
  }

  /** Uniform among allowed ids, eos with probability 1/2 once allowed. */
  private String walk(GrammarMatcher m, Random rnd) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int step = 0; step < 400; step++) {
      List<Integer> allowed = ids(m.allowedTokens());
      assertFalse(allowed.isEmpty(), "dead end after " + out.toString(StandardCharsets.UTF_8));
      if (m.isComplete() && (rnd.nextBoolean() || allowed.size() == Vocabularies.EOS.size())) {
        return out.toString(StandardCharsets.UTF_8);
      }
      allowed.removeAll(Vocabularies.EOS);
      int id = allowed.get(rnd.nextInt(allowed.size()));
      m.accept(id);
      out.writeBytes(Vocabularies.tokenizer().tokenBytes(id));
    }
    throw new AssertionError("no end after 400 tokens: " + out.toString(StandardCharsets.UTF_8));
  }

  private static List<Integer> ids(long[] mask) {
    List<Integer> out = new ArrayList<>();
    for (int w = 0; w < mask.length; w++) {
      for (long bits = mask[w]; bits != 0; bits &= bits - 1) {
        out.add(w * 64 + Long.numberOfTrailingZeros(bits));
      }
    }
    return out;
  }
}
