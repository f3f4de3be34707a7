package io.autoglm.answer;

import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import static io.autoglm.answer.AnswerParserTest.assertStreamsLikeWhole;
import static io.autoglm.answer.AnswerParserTest.counter;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonParser;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Thinking blocks, several and zero-argument calls, typed values, and malformed calls that must stay text. */
class AnswerShapesTest {
  private static final List<Map<String, Object>> TOOLS = List.of(
      Map.of("type", "function", "function", Map.of("name", "get_weather", "parameters", Map.of("type", "object",
          "properties", Map.of("city", Map.of("type", "string"), "days", Map.of("type", "integer"))))),
      Map.of("type", "function", "function", Map.of("name", "now", "parameters", Map.of("type", "object"))));
  private static final String XML_TEMPLATE = "<think></think><tool_call>{{ name }}<arg_key>k</arg_key>";
  private static final AnswerFormat XML = AnswerFormat.detect(XML_TEMPLATE, "<|assistant|>", TOOLS, true);
  private static final AnswerFormat XML_IN_THINK = AnswerFormat.detect(XML_TEMPLATE, "<|assistant|>\n<think>",
      TOOLS, true);
  private static final AnswerFormat GLM4 = AnswerFormat.detect("{{ item['metadata'] }}", "<|assistant|>", TOOLS,
      true);

  private static ParsedAnswer check(AnswerFormat format, String text) {
    assertStreamsLikeWhole(format, text);
    return AnswerParser.parse(format, text, counter());
  }

  private static ToolCall call(int i, String name, String args) {
    return new ToolCall("call_" + i, name, args);
  }

  private static void assertArgs(String expectedJson, ToolCall actual) {
    assertEquals(JsonParser.parseString(expectedJson), JsonParser.parseString(actual.argumentsJson()));
  }

  @Test
  void reasoningThenContent() {
    ParsedAnswer p = check(XML, "\n<think>let me see\n</think>\nIt is sunny.");
    assertEquals(new ParsedAnswer("It is sunny.", Optional.of("let me see\n"), List.of()), p);
  }

  @Test
  void promptEndingInThinkStartsInsideTheBlock() {
    assertEquals(new ParsedAnswer("Hi", Optional.of("hmm"), List.of()), check(XML_IN_THINK, "hmm</think>\nHi"));
    assertEquals(new ParsedAnswer("", Optional.of("unfinished"), List.of()), check(XML_IN_THINK, "unfinished"));
  }

  @Test
  void noThinkBlockIsAllContent() {
    assertEquals(new ParsedAnswer("Plain </think> text", Optional.empty(), List.of()),
        check(XML, "Plain </think> text"));
  }

  @Test
  void severalCallsAfterThinkingWithTypedValues() {
    ParsedAnswer p = check(XML, "\n<think>plan</think>\nChecking.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
        + "<arg_value>42</arg_value>\n<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>\n"
        + "<tool_call>now\n</tool_call>");
    assertEquals("Checking.", p.content());
    assertEquals(Optional.of("plan"), p.reasoningContent());
    assertEquals(2, p.toolCalls().size());
    assertEquals(List.of("get_weather", "now"), p.toolCalls().stream().map(ToolCall::name).toList());
    assertArgs("{\"city\": \"42\", \"days\": 3}", p.toolCalls().get(0)); // city is a string parameter: kept raw
    assertArgs("{}", p.toolCalls().get(1));
  }

  @Test
  void nonJsonValueOfATypedParameterStaysAString() {
    ParsedAnswer p = check(XML, "<tool_call>get_weather\n<arg_key>days</arg_key>\n<arg_value>three</arg_value>\n"
        + "</tool_call>");
    assertArgs("{\"days\": \"three\"}", p.toolCalls().get(0));
  }

  @Test
  void callInsideTheThinkingBlockIsACall() {
    ParsedAnswer p = check(XML_IN_THINK, "I need weather<tool_call>now\n</tool_call>");
    assertEquals(new ParsedAnswer("", Optional.of("I need weather"), List.of(call(0, "now", "{}"))), p);
  }

  @Test
  void textAfterACallStaysContent() {
    ParsedAnswer p = check(XML, "<tool_call>now</tool_call>\n\nDone.");
    assertEquals(new ParsedAnswer("Done.", Optional.empty(), List.of(call(0, "now", "{}"))), p);
  }

  @Test
  void malformedCallsStayText() {
    for (String bad : List.of(
        "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris",            // never closed
        "<tool_call>\n<arg_key>city</arg_key><arg_value>x</arg_value></tool_call>",       // no name
        "<tool_call>get weather\n</tool_call>",                                           // name with a space
        "<tool_call>now\njunk<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>",   // text between elements
        "<tool_call>now\n<arg_key>a</arg_key>1</tool_call>",                              // value without tags
        "<tool_call>now\n<arg_key></arg_key><arg_value>1</arg_value></tool_call>")) {     // empty key
      ParsedAnswer p = check(XML, "Before " + bad);
      assertEquals(new ParsedAnswer("Before " + bad, Optional.empty(), List.of()), p, bad);
    }
  }

  @Test
  void aCallOpeningInsideAnOpenCallRejectsTheFirst() {
    ParsedAnswer p = check(XML, "<tool_call>get_weather\n<tool_call>now\n</tool_call>");
    assertEquals(new ParsedAnswer("<tool_call>get_weather", Optional.empty(), List.of(call(0, "now", "{}"))), p);
  }

  @Test
  void glm4CallsFillTheAnswer() {
    ParsedAnswer p = check(GLM4, "get_weather\n{\"city\": \"北京\", \"days\": 1}");
    assertEquals(new ParsedAnswer("", Optional.empty(),
        List.of(call(0, "get_weather", "{\"city\": \"北京\", \"days\": 1}"))), p);
    ParsedAnswer two = check(GLM4, "get_weather\n{\"city\": \"a}\"}now\n{}");
    assertEquals(List.of(call(0, "get_weather", "{\"city\": \"a}\"}"), call(1, "now", "{}")), two.toolCalls());
  }

  @Test
  void glm4TextIsNotACall() {
    for (String text : List.of("\nget_weather is a tool", "get_weather\nnot json", "get_weather\n{\"city\": }",
        "get_weather\n{\"a\": 1} and more", "unknown_tool\n{}", "get_weat")) {
      ParsedAnswer p = check(GLM4, text);
      assertEquals(new ParsedAnswer(text.strip(), Optional.empty(), List.of()), p, text);
    }
  }

  @Test
  void toolChoiceNoneOrNoToolsParsesNoCalls() {
    AnswerFormat none = AnswerFormat.detect(XML_TEMPLATE, "", TOOLS, false);
    String text = "<tool_call>now\n</tool_call>";
    assertEquals(new ParsedAnswer(text, Optional.empty(), List.of()), check(none, text));
    assertEquals(AnswerFormat.Syntax.NONE, AnswerFormat.detect(XML_TEMPLATE, "", List.of(), true).syntax());
  }
}
