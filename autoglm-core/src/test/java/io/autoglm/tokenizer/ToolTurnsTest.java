package io.autoglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import com.google.gson.JsonObject;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Typed tool turns (calls with JSON-text arguments, results with a call id), put in each template's forms by
 * {@link ToolTurns}, render exactly as transformers renders the same conversation in the template's own form: the
 * tool-result cases of chat_goldens.json.
 */
class ToolTurnsTest {
  private static ChatTemplate template(String name) {
    return name.equals("glm-4.5") ? ChatTemplate.load(Fixtures.tokenizers("glm-4.5"))
        : GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf")).chatTemplate().orElseThrow();
  }

  @Test
  void formsFollowTheTemplate() {
    assertEquals(new ToolTurns("tool", true), ToolTurns.of(Optional.of(template("glm-4.5"))));
    assertEquals(new ToolTurns("observation", false), ToolTurns.of(Optional.of(template("glm-4-9b-chat-hf"))));
    assertEquals(ToolTurns.OPENAI, ToolTurns.of(Optional.empty()));
  }

  @TestFactory
  List<DynamicTest> typedTurnsRenderAsTheGolden() {
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonElement e : Fixtures.resourceJson(getClass(), "chat_goldens.json").getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      ChatPrompt golden = ChatPrompt.fromJson(c.toString());
      if (golden.messages().stream().noneMatch(m -> m.role().equals("tool") || m.role().equals("observation"))) {
        continue;
      }
      tests.add(DynamicTest.dynamicTest(c.get("name").getAsString(), () -> {
        ChatTemplate t = template(c.get("template").getAsString());
        assertEquals(c.get("text").getAsString(), t.render(typed(golden, ToolTurns.of(Optional.of(t)))));
      }));
    }
    assertTrue(tests.size() >= 3, "the goldens hold tool-result cases, got " + tests.size());
    return tests;
  }

  /**
   * The golden conversation as a typed caller holds it: GLM-4's {@code metadata} turns and OpenAI's
   * {@code tool_calls} become {@link ToolCall}s with JSON-text arguments, results answer the last call, and GLM-4's
   * tools system message becomes the prompt's tools.
   */
  private static ChatPrompt typed(ChatPrompt golden, ToolTurns forms) {
    List<ChatMessage> out = new ArrayList<>();
    List<Map<String, Object>> tools = new ArrayList<>(golden.tools());
    int calls = 0;
    for (ChatMessage m : golden.messages()) {
      if (m.fields().get("tools") instanceof List<?> list) {
        list.forEach(t -> tools.add(cast(t)));
        continue;
      }
      if (m.fields().containsKey("metadata") || m.fields().containsKey("tool_calls")) {
        List<ToolCall> typed = new ArrayList<>();
        if (m.fields().get("tool_calls") instanceof List<?> list) {
          for (Object call : list) {
            Map<String, Object> f = cast(cast(call).get("function"));
            String arguments = PythonJson.defaults().dumps(f.get("arguments"));
            typed.add(new ToolCall("call_" + calls++, (String) f.get("name"), arguments));
          }
        } else {
          typed.add(new ToolCall("call_" + calls++, (String) m.fields().get("metadata"), m.content().joined()));
        }
        String text = m.fields().containsKey("metadata") ? "" : m.content().joined();
        out.addAll(forms.assistantCalls(text, typed));
      } else if (m.role().equals("tool") || m.role().equals("observation")) {
        ChatMessage r = forms.toolResult("", Optional.of("call_" + (calls - 1)), Optional.empty());
        out.add(new ChatMessage(r.role(), m.content(), r.fields()));
      } else {
        out.add(m);
      }
    }
    return new ChatPrompt(out, tools, golden.addGenerationPrompt(), golden.templateKwargs());
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> cast(Object o) {
    return (Map<String, Object>) o;
  }

  @Test
  void argumentsThatAreNotAnObjectAreRefusedNamingTheCall() {
    ToolTurns glm4 = new ToolTurns("observation", false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> glm4.assistantCalls("", List.of(new ToolCall("call_7", "f", "[1]"))));
    assertEquals("tool call call_7 (f) arguments must be a JSON object, got '[1]'", e.getMessage());
    assertEquals(List.of(new ChatMessage("assistant", "{}", Map.of("metadata", "f"))),
        glm4.assistantCalls("", List.of(new ToolCall("call_8", "f", ""))));
  }
}
