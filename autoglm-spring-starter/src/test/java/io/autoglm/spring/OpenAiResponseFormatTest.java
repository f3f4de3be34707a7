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
}
