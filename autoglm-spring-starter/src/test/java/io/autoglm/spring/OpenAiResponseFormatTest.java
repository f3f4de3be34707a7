package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.autoglm.ResponseFormat;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/** OpenAI's response_format reaches the core's SamplingParams; anything else is a 400 naming the field. */
class OpenAiResponseFormatTest {
  private static final String MESSAGES = "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]";
  private final OpenAiRequestParser parser = new OpenAiRequestParser(1.0, 4, 64);
  private final JsonMapper json = JsonMapper.builder().build();

  private Optional<ResponseFormat> format(String responseFormat) {
    return parser.chat(json.readTree("{" + MESSAGES + ", \"response_format\": " + responseFormat + "}"))
        .sampling().responseFormat();
  }

  @Test
  void textIsFreeAndJsonObjectIsAnyObject() {
    assertThat(format("{\"type\": \"text\"}")).isEmpty();
    assertThat(format("{\"type\": \"json_object\"}")).contains(ResponseFormat.jsonObject());
  }

  @Test
  void jsonSchemaCarriesTheSchemaText() {
    String schema = "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}, \"required\": [\"a\"]}";
    ResponseFormat f = format("{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"thing\", \"strict\": true, "
        + "\"schema\": " + schema + "}}").orElseThrow();
    assertThat(f.type()).isEqualTo(ResponseFormat.Type.JSON_SCHEMA);
    assertThat(json.readTree(f.jsonSchema().orElseThrow())).isEqualTo(json.readTree(schema));
  }

  @Test
  void badShapesAreRejectedNamingTheField() {
    for (String bad : new String[] {"{\"type\": \"json_schema\"}", "{\"type\": \"json_schema\", \"json_schema\": "
        + "{\"name\": \"x\", \"schema\": 3}}", "{\"type\": \"yaml\"}", "\"json_object\""}) {
      assertThatThrownBy(() -> format(bad)).isInstanceOfSatisfying(OpenAiException.class,
          e -> assertThat(e.param()).contains("response_format"));
    }
  }

  private static final String TOOLS = "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a\"}}, "
      + "{\"type\": \"function\", \"function\": {\"name\": \"b\", \"parameters\": {\"type\": \"object\"}}}]";

  private OpenAiRequest chat(String fields) {
    return parser.chat(json.readTree("{" + MESSAGES + ", " + fields + "}"));
  }

  @Test
  void requiredAndANamedFunctionForceACallOfTheTools() {
    ResponseFormat required = chat(TOOLS + ", \"tool_choice\": \"required\"").sampling().responseFormat()
        .orElseThrow();
    assertThat(required.type()).isEqualTo(ResponseFormat.Type.TOOL_CALL);
    assertThat(ResponseFormat.toolNames(required.tools())).containsExactly("a", "b");
    assertThat(required.toolName()).isEmpty();
    ResponseFormat named = chat(TOOLS + ", \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": "
        + "\"b\"}}").sampling().responseFormat().orElseThrow();
    assertThat(named.toolName()).contains("b");
    assertThat(chat(TOOLS + ", \"tool_choice\": \"auto\"").sampling().responseFormat()).isEmpty();
  }

  @Test
  void badForcedChoicesAreRejectedNamingTheField() {
    assertThatThrownBy(() -> chat(TOOLS + ", \"tool_choice\": {\"type\": \"function\", \"function\": "
        + "{\"name\": \"c\"}}")).isInstanceOfSatisfying(OpenAiException.class, e -> {
          assertThat(e.status()).isEqualTo(400);
          assertThat(e.param()).contains("tool_choice.function.name");
          assertThat(e.getMessage()).contains("'c'");
        });
    for (String bad : new String[] {"\"tool_choice\": \"required\"", TOOLS + ", \"tool_choice\": \"always\"",
        TOOLS + ", \"tool_choice\": {\"type\": \"function\"}",
        TOOLS + ", \"tool_choice\": \"required\", \"response_format\": {\"type\": \"json_object\"}"}) {
      assertThatThrownBy(() -> chat(bad)).as(bad).isInstanceOfSatisfying(OpenAiException.class,
          e -> assertThat(e.status()).isEqualTo(400));
    }
  }
}
