package io.autoglm.springai;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import io.autoglm.AutoGLM;
import io.autoglm.ResponseFormat;
import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import io.autoglm.tokenizer.ToolTurns;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.TextRequest.OutputParsing;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.model.tool.ToolCallingManager;
import org.springframework.ai.tool.definition.ToolDefinition;

/**
 * Spring AI prompts as AutoGLM text requests. Every option is honoured or refused with an
 * {@link IllegalArgumentException} naming it: {@code frequencyPenalty} / {@code presencePenalty} other than 0, a
 * {@code model} other than the engine's, and media. Tools come from the options' callbacks through the
 * {@link ToolCallingManager} (as every Spring AI model resolves them); tool turns are put in the chat template's forms
 * ({@link ToolTurns}). {@link AutoGLMChatOptions.ToolChoice#REQUIRED} forces one call while the last message is not
 * a tool result; a forced turn is a call, so an output schema applies to the turns after it.
 *
 * @param glm      the engine
 * @param forms    the template's forms of tool turns
 * @param thinking the template's answers may open with a {@code <think>} block
 */
record Prompts(AutoGLM glm, ToolTurns forms, boolean thinking, ToolCallingManager tools, Optional<Duration> timeout,
    String user) {
  // integers stay integers (Long), as the schema and the template print them
  private static final Gson GSON = new com.google.gson.GsonBuilder()
      .setObjectToNumberStrategy(com.google.gson.ToNumberPolicy.LONG_OR_DOUBLE).create();

  static Prompts of(AutoGLM glm, ToolCallingManager tools, Optional<Duration> timeout, String user) {
    var template = io.autoglm.internal.EngineAccess.get().tokenizer(glm).chatTemplate();
    boolean thinks = template.map(t -> AnswerFormat.thinks(t.source())).orElse(false);
    return new Prompts(glm, ToolTurns.of(template), thinks, tools, timeout, user);
  }

  /** The request to submit for {@code prompt} under the merged {@code options}. */
  TextRequest toTextRequest(Prompt prompt, AutoGLMChatOptions o) {
    checkUnsupported(o);
    List<Map<String, Object>> tools = o.getToolChoice() == AutoGLMChatOptions.ToolChoice.NONE ? List.of()
        : tools(this.tools.resolveToolDefinitions(o));
    boolean forced = o.getToolChoice() == AutoGLMChatOptions.ToolChoice.REQUIRED;
    if (forced && tools.isEmpty()) {
      throw new IllegalArgumentException("toolChoice REQUIRED needs tool callbacks, got none");
    }
    List<Message> messages = prompt.getInstructions();
    boolean afterToolResult = !messages.isEmpty() && messages.get(messages.size() - 1) instanceof ToolResponseMessage;
    Optional<ResponseFormat> format = forced && !afterToolResult
        ? Optional.of(ResponseFormat.toolCall(tools, Optional.empty()))
        : Optional.ofNullable(o.getOutputSchema()).map(ResponseFormat::jsonSchema);
    SamplingParams.Builder s = SamplingParams.builder()
        .temperature(o.getTemperature() == null ? 0 : o.getTemperature())
        .topP(o.getTopP() == null ? 1 : o.getTopP())
        .topK(o.getTopK() == null ? 0 : o.getTopK())
        .stop(o.getStopSequences() == null ? List.of() : o.getStopSequences());
    if (o.getMaxTokens() != null) {
      s.maxNewTokens(o.getMaxTokens());
    }
    if (o.getSeed() != null) {
      s.seed(o.getSeed());
    }
    format.ifPresent(s::responseFormat);
    ChatPrompt chat = new ChatPrompt(messages(messages), tools, true, Map.of());
    OutputParsing parsing = !tools.isEmpty() ? OutputParsing.REASONING_AND_TOOL_CALLS
        : thinking ? OutputParsing.REASONING : OutputParsing.RAW;
    TextRequest r = TextRequest.chat(chat, s.build()).withUser(user).withParsing(parsing);
    return timeout.map(r::withTimeout).orElse(r);
  }

  private void checkUnsupported(AutoGLMChatOptions o) {
    if (o.getFrequencyPenalty() != null && o.getFrequencyPenalty() != 0) {
      throw new IllegalArgumentException("frequencyPenalty (" + o.getFrequencyPenalty() + ") is not supported by "
          + "AutoGLM: the engine has no penalties; leave it unset or 0");
    }
    if (o.getPresencePenalty() != null && o.getPresencePenalty() != 0) {
      throw new IllegalArgumentException("presencePenalty (" + o.getPresencePenalty() + ") is not supported by "
          + "AutoGLM: the engine has no penalties; leave it unset or 0");
    }
    if (o.getModel() != null && !o.getModel().equals(glm.modelId())) {
      throw new IllegalArgumentException("model '" + o.getModel() + "' is not served: this model serves '"
          + glm.modelId() + "' (leave model unset)");
    }
  }

  /** Tool definitions in OpenAI's shape, as chat templates and the forced-call grammar read them. */
  static List<Map<String, Object>> tools(List<ToolDefinition> definitions) {
    List<Map<String, Object>> tools = new ArrayList<>();
    for (ToolDefinition d : definitions) {
      Map<String, Object> function = new LinkedHashMap<>();
      function.put("name", d.name());
      if (d.description() != null && !d.description().isEmpty()) {
        function.put("description", d.description());
      }
      function.put("parameters", schema(d));
      Map<String, Object> tool = new LinkedHashMap<>(); // in OpenAI's key order: templates print tools as given
      tool.put("type", "function");
      tool.put("function", function);
      tools.add(tool);
    }
    return tools;
  }

  private static Object schema(ToolDefinition d) {
    try {
      Object schema = GSON.fromJson(d.inputSchema(), Object.class);
      if (schema instanceof Map<?, ?>) {
        return schema;
      }
    } catch (JsonParseException e) {
      // refused below, naming the tool
    }
    throw new IllegalArgumentException("tool '" + d.name() + "' input schema must be a JSON object, got "
        + d.inputSchema());
  }

  private List<ChatMessage> messages(List<Message> messages) {
    List<ChatMessage> out = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      Message m = messages.get(i);
      String text = m.getText() == null ? "" : m.getText();
      if (m instanceof SystemMessage) {
        out.add(ChatMessage.system(text));
      } else if (m instanceof UserMessage u) {
        if (!u.getMedia().isEmpty()) {
          throw new IllegalArgumentException("messages[" + i + "] has " + u.getMedia().size() + " media ("
              + u.getMedia().get(0).getMimeType() + "); GLM text models read text only");
        }
        out.add(ChatMessage.user(text));
      } else if (m instanceof AssistantMessage a) {
        List<ToolCall> calls = new ArrayList<>();
        for (AssistantMessage.ToolCall c : a.getToolCalls()) {
          calls.add(new ToolCall(c.id() == null || c.id().isEmpty() ? "call_" + calls.size() : c.id(), c.name(),
              c.arguments() == null ? "" : c.arguments()));
        }
        out.addAll(forms.assistantCalls(text, calls));
      } else if (m instanceof ToolResponseMessage t) {
        for (ToolResponseMessage.ToolResponse r : t.getResponses()) {
          out.add(forms.toolResult(r.responseData(), Optional.ofNullable(r.id()), Optional.ofNullable(r.name())));
        }
      } else {
        throw new IllegalArgumentException("messages[" + i + "] is a " + m.getMessageType() + " message; AutoGLM "
            + "takes system, user, assistant and tool messages");
      }
    }
    return out;
  }
}
