package io.autoglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * glm-4.5/golden_chat.json: every case renders to transformers' text exactly. Per SOURCE.md, {@code glm45-*} cases
 * use glm-4.5/chat_template.jinja and {@code glm4-*} cases glm-4-9b-chat's template (tokenizer_config.json).
 */
class ChatTemplateGoldenTest {
  private final ChatTemplate glm45 = ChatTemplate.load(Fixtures.tokenizers("glm-4.5"));
  private final ChatTemplate glm4 = ChatTemplate.load(Fixtures.tokenizers("glm-4-9b-chat"));

  @TestFactory
  List<DynamicTest> everyCaseRendersExactly() {
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonElement e : Fixtures.json("glm-4.5", "golden_chat.json").getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      String name = c.get("name").getAsString();
      ChatTemplate template = name.startsWith("glm45-") ? glm45 : glm4;
      tests.add(DynamicTest.dynamicTest(name, () ->
          assertEquals(c.get("text").getAsString(), template.render(ChatPrompt.fromJson(c.toString())))));
    }
    return tests;
  }
}
