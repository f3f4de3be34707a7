package io.autoglm.langchain4j;

import com.google.gson.Gson;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
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

/**
 * LangChain4j chat requests as AutoGLM text requests. Every parameter is honoured or refused:
 * {@code frequencyPenalty} / {@code presencePenalty} other than 0, a {@code modelName} other than the engine's, and
 * non-text content throw {@link UnsupportedFeatureException} or {@link InvalidRequestException} naming the
 * parameter. Tools and tool turns are put in the chat template's forms ({@link ToolTurns}).
 *
 * <p>{@link ToolChoice#REQUIRED} forces one call by constrained decoding ({@link ResponseFormat#toolCall}) while the
 * last message is not a tool result; once it is, the model answers freely ({@code AUTO}), so that AiServices' tool
 * loop ends (forcing every request, as OpenAI reads it, would loop until AiServices' round-trip limit). A forced
 * turn is a call, so a JSON response format applies to the turns after it. {@link ToolChoice#NONE} keeps the tools
 * out of the prompt.
 *
 * @param glm      the engine
 * @param forms    the template's forms of tool turns
 * @param thinking the template's answers may open with a {@code <think>} block
 * @param timeout  the engine-side deadline of each request
 * @param user     the rate limiter's caller key
 */
record ChatRequests(AutoGLM glm, ToolTurns forms, boolean thinking, Optional<Duration> timeout, String user) {
  // integers stay integers (Long), as the schema and the template print them
  private static final Gson GSON = new com.google.gson.GsonBuilder()
      .setObjectToNumberStrategy(com.google.gson.ToNumberPolicy.LONG_OR_DOUBLE).create();

  static ChatRequests of(AutoGLM glm, Optional<Duration> timeout, String user) {
    var template = io.autoglm.internal.EngineAccess.get().tokenizer(glm).chatTemplate();
    boolean thinks = template.map(t -> AnswerFormat.thinks(t.source())).orElse(false);
    return new ChatRequests(glm, ToolTurns.of(template), thinks, timeout, user);
  }

  /** The request to submit; {@code parameters} are the merged ones (the model's defaults overridden). */
  TextRequest toTextRequest(ChatRequest request) {
    ChatRequestParameters p = request.parameters();
    checkUnsupported(p);
    boolean offerTools = p.toolChoice() != ToolChoice.NONE && !p.toolSpecifications().isEmpty();
    List<Map<String, Object>> tools = offerTools ? tools(p.toolSpecifications()) : List.of();
    if (p.toolChoice() == ToolChoice.REQUIRED && tools.isEmpty()) {
      throw new InvalidRequestException("toolChoice REQUIRED needs toolSpecifications, got none");
    }
    boolean afterToolResult = request.messages().get(request.messages().size() - 1)
        instanceof ToolExecutionResultMessage;
    Optional<ResponseFormat> format = p.toolChoice() == ToolChoice.REQUIRED && !afterToolResult
        ? Optional.of(ResponseFormat.toolCall(tools, Optional.empty()))
        : responseFormat(p.responseFormat());
    SamplingParams sampling;
    ChatPrompt chat;
    try {
      SamplingParams.Builder s = SamplingParams.builder()
          .temperature(p.temperature() == null ? 0 : p.temperature())
          .topP(p.topP() == null ? 1 : p.topP())
          .topK(p.topK() == null ? 0 : p.topK())
          .stop(p.stopSequences());
      if (p.maxOutputTokens() != null) {
        s.maxNewTokens(p.maxOutputTokens());
      }
      if (p instanceof AutoGLMChatRequestParameters a && a.seed() != null) {
        s.seed(a.seed());
      }
      format.ifPresent(s::responseFormat);
      sampling = s.build();
      chat = new ChatPrompt(messages(request.messages()), tools, true, Map.of());
    } catch (IllegalArgumentException e) {
      throw new InvalidRequestException(e.getMessage(), e);
    }
    OutputParsing parsing = !tools.isEmpty() ? OutputParsing.REASONING_AND_TOOL_CALLS
        : thinking ? OutputParsing.REASONING : OutputParsing.RAW;
    TextRequest r = TextRequest.chat(chat, sampling).withUser(user).withParsing(parsing);
    return timeout.map(r::withTimeout).orElse(r);
  }

  private void checkUnsupported(ChatRequestParameters p) {
    if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0) {
      throw new UnsupportedFeatureException("frequencyPenalty (" + p.frequencyPenalty() + ") is not supported by "
          + "AutoGLM: the engine has no penalties; leave it unset or 0");
    }
    if (p.presencePenalty() != null && p.presencePenalty() != 0) {
      throw new UnsupportedFeatureException("presencePenalty (" + p.presencePenalty() + ") is not supported by "
          + "AutoGLM: the engine has no penalties; leave it unset or 0");
    }
    if (p.modelName() != null && !p.modelName().equals(glm.modelId())) {
      throw new InvalidRequestException("modelName '" + p.modelName() + "' is not served: this model serves '"
          + glm.modelId() + "' (leave modelName unset)");
    }
  }

  /** TEXT: free text; JSON with a schema: JSON valid under it; JSON without one: any JSON object. */
  private static Optional<ResponseFormat> responseFormat(dev.langchain4j.model.chat.request.ResponseFormat f) {
    if (f == null || f.type() == ResponseFormatType.TEXT) {
      return Optional.empty();
    }
    if (f.jsonSchema() == null || f.jsonSchema().rootElement() == null) {
      return Optional.of(ResponseFormat.jsonObject());
    }
    return Optional.of(ResponseFormat.jsonSchema(GSON.toJson(JsonSchemaElementUtils.toMap(
        f.jsonSchema().rootElement()))));
  }

  /** Tool specifications in OpenAI's shape, as chat templates and the forced-call grammar read them. */
  static List<Map<String, Object>> tools(List<ToolSpecification> specs) {
    List<Map<String, Object>> tools = new ArrayList<>();
    for (ToolSpecification spec : specs) {
      Map<String, Object> function = new LinkedHashMap<>();
      function.put("name", spec.name());
      if (spec.description() != null) {
        function.put("description", spec.description());
      }
      function.put("parameters", spec.parameters() == null
          ? GSON.fromJson("{\"type\": \"object\", \"properties\": {}}", Map.class)
          : JsonSchemaElementUtils.toMap(spec.parameters()));
      Map<String, Object> tool = new LinkedHashMap<>(); // in OpenAI's key order: templates print tools as given
      tool.put("type", "function");
      tool.put("function", function);
      // a round trip through JSON: the schema maps hold arrays and LangChain4j types the template cannot print
      @SuppressWarnings("unchecked")
      Map<String, Object> plain = GSON.fromJson(GSON.toJson(tool), Map.class);
      tools.add(plain);
    }
    return tools;
  }

  private List<ChatMessage> messages(List<dev.langchain4j.data.message.ChatMessage> messages) {
    List<ChatMessage> out = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      dev.langchain4j.data.message.ChatMessage m = messages.get(i);
      if (m instanceof SystemMessage s) {
        out.add(ChatMessage.system(s.text()));
      } else if (m instanceof UserMessage u) {
        out.add(ChatMessage.user(userText(u, i)));
      } else if (m instanceof AiMessage a) {
        out.addAll(forms.assistantCalls(a.text() == null ? "" : a.text(), calls(a)));
      } else if (m instanceof ToolExecutionResultMessage t) {
        out.add(forms.toolResult(t.text(), Optional.ofNullable(t.id()), Optional.ofNullable(t.toolName())));
      } else {
        throw new UnsupportedFeatureException("messages[" + i + "] is a " + m.type() + " message; AutoGLM takes "
            + "SYSTEM, USER, AI and TOOL_EXECUTION_RESULT messages");
      }
    }
    return out;
  }

  private static String userText(UserMessage u, int index) {
    StringBuilder text = new StringBuilder();
    for (int j = 0; j < u.contents().size(); j++) {
      Content c = u.contents().get(j);
      if (!(c instanceof TextContent t)) {
        throw new UnsupportedFeatureException("messages[" + index + "].contents[" + j + "] is " + c.type()
            + " content; GLM text models read TEXT content only");
      }
      text.append(t.text());
    }
    return text.toString();
  }

  private static List<ToolCall> calls(AiMessage a) {
    List<ToolCall> calls = new ArrayList<>();
    for (ToolExecutionRequest r : a.toolExecutionRequests()) {
      String id = r.id() == null || r.id().isEmpty() ? "call_" + calls.size() : r.id();
      calls.add(new ToolCall(id, r.name(), r.arguments() == null ? "" : r.arguments()));
    }
    return calls;
  }
}
