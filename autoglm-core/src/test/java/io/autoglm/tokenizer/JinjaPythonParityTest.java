package io.autoglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The Python-only corners chat templates lean on (tojson spacing and escapes, float repr, str methods, whitespace
 * control, trailing newline, namespace, dict items) render as Python's Jinja2 renders them. Expected outputs come
 * from jinja_python_reference.json, written by make_jinja_reference.py beside it.
 */
class JinjaPythonParityTest {

  @TestFactory
  List<DynamicTest> rendersAsPythonJinja() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    try (InputStream in = getClass().getResourceAsStream("jinja_python_reference.json")) {
      String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      int i = 0;
      for (JsonElement e : JsonParser.parseString(json).getAsJsonArray()) {
        JsonObject c = e.getAsJsonObject();
        String template = c.get("template").getAsString();
        Map<String, Object> context = JsonValues.toMap(c.getAsJsonObject("context"));
        tests.add(DynamicTest.dynamicTest(i++ + ": " + template, () -> assertEquals(
            c.get("expected").getAsString(), ChatTemplate.of(template).renderVariables(context))));
      }
    }
    return tests;
  }
}
