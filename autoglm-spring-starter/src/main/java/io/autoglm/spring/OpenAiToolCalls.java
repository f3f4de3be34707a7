package io.autoglm.spring;

import io.autoglm.GenerationResult;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parsed answer in OpenAI's chat shapes: a message's {@code content}, {@code reasoning_content} (vLLM's field
 * name) and {@code tool_calls}, and the stream delta of each {@link AnswerDelta} (a call's first delta carries its
 * index, id, type and name with empty arguments, later ones argument fragments, as OpenAI streams them).
 */
final class OpenAiToolCalls {
  private OpenAiToolCalls() {}

  /** Fills an assistant message from a result; content is null when the answer is only calls, as OpenAI sends. */
  static void fill(Map<String, Object> message, GenerationResult r) {
    List<ToolCall> calls = r.toolCalls();
    message.put("content", calls.isEmpty() || !r.content().isEmpty() ? r.content() : null);
    r.reasoningContent().ifPresent(t -> message.put("reasoning_content", t));
    if (!calls.isEmpty()) {
      List<Object> list = new ArrayList<>();
      for (ToolCall c : calls) {
        Map<String, Object> call = new LinkedHashMap<>();
        call.put("id", c.id());
        call.put("type", "function");
        call.put("function", function(c.name(), c.argumentsJson()));
        list.add(call);
      }
      message.put("tool_calls", list);
    }
  }

  /** The chunk delta of one parsed piece. */
  static Map<String, Object> delta(AnswerDelta d) {
    if (d instanceof AnswerDelta.Content c) {
      return Map.of("content", c.text());
    }
    if (d instanceof AnswerDelta.Reasoning r) {
      return Map.of("reasoning_content", r.text());
    }
    Map<String, Object> call = new LinkedHashMap<>();
    if (d instanceof AnswerDelta.ToolCallStart s) {
      call.put("index", s.index());
      call.put("id", s.id());
      call.put("type", "function");
      call.put("function", function(s.name(), ""));
    } else {
      AnswerDelta.ToolCallArguments a = (AnswerDelta.ToolCallArguments) d;
      call.put("index", a.index());
      call.put("function", Map.of("arguments", a.fragment()));
    }
    return Map.of("tool_calls", List.of(call));
  }

  private static Map<String, Object> function(String name, String arguments) {
    Map<String, Object> f = new LinkedHashMap<>();
    f.put("name", name);
    f.put("arguments", arguments);
    return f;
  }
}
