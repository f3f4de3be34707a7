package io.autoglm.spring;

import io.autoglm.SamplingParams;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import io.autoglm.TextRequest.OutputParsing;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import tools.jackson.databind.JsonNode;

/**
 * Reads OpenAI request bodies into {@link OpenAiRequest}s. Every field is either honoured or rejected with a 400 that
 * names it (non-text content parts are not supported). Sampling: {@code presence_penalty} and
 * {@code frequency_penalty} in [-2, 2], {@code logit_bias} (token id → [-100, 100]), {@code logprobs} (chat: a
 * boolean with {@code top_logprobs} 0 to 20; completions: 0 to 20 alternatives). Extensions (as vLLM's server has
 * them): {@code top_k}, {@code min_p}, {@code repetition_penalty}, {@code ignore_eos} and, for chat,
 * {@code chat_template_kwargs} (e.g. {@code enable_thinking} for GLM-4.5).
 *
 * <p>Tools: with {@code tools} and {@code tool_choice: auto} (the default) the answer's reasoning and tool calls are
 * parsed ({@link OutputParsing#REASONING_AND_TOOL_CALLS}); otherwise only the reasoning, for a template that thinks
 * ({@link OutputParsing#REASONING}), and nothing for one that does not (RAW: the text is the content, as before).
 * {@code tool_choice: none} keeps the tools out of the prompt. {@code tool_choice: required} and a named function
 * force one call by constrained decoding ({@link io.autoglm.ResponseFormat#toolCall}); an unknown name is a 400
 * naming it. {@code parallel_tool_calls: false} answers with the first call only (under auto the model is not
 * constrained to make one). Tool turns are put in the template's own forms
 * ({@link ChatTemplateForms}).
 */
final class OpenAiRequestParser {
  private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "n", "stop", "seed",
      "presence_penalty", "frequency_penalty", "user", "stream", "stream_options", "logprobs", "logit_bias", "top_k",
      "ignore_eos", "min_p", "repetition_penalty");
  private static final Set<String> CHAT = union(COMMON, Set.of("messages", "max_completion_tokens", "tools",
      "tool_choice", "parallel_tool_calls", "top_logprobs", "response_format", "chat_template_kwargs"));
  private static final Set<String> COMPLETION = union(COMMON, Set.of("prompt", "echo", "best_of", "suffix"));
  private static final Set<String> MESSAGE = Set.of("role", "content", "name", "tool_calls", "tool_call_id",
      "reasoning_content", "refusal");
  /** OpenAI's default max_tokens for /v1/completions. */
  private static final int COMPLETION_DEFAULT_MAX_TOKENS = 16;

  private final double defaultTemperature;
  private final int maxChoices;
  private final int defaultChatMaxTokens;
  private final ChatTemplateForms forms;

  /**
   * @param defaultChatMaxTokens max_tokens of a chat request that gives none
   *     ({@code autoglm.server.default-max-tokens}, capped by the context; the engine also stops at its end)
   * @param forms the served chat template's forms of tool turns, and whether it thinks
   */
  OpenAiRequestParser(double defaultTemperature, int maxChoices, int defaultChatMaxTokens, ChatTemplateForms forms) {
    this.defaultTemperature = defaultTemperature;
    this.maxChoices = maxChoices;
    this.defaultChatMaxTokens = defaultChatMaxTokens;
    this.forms = forms;
  }

  /** A parser for a template in OpenAI's own forms that does not think ({@link ChatTemplateForms#OPENAI}). */
  OpenAiRequestParser(double defaultTemperature, int maxChoices, int defaultChatMaxTokens) {
    this(defaultTemperature, maxChoices, defaultChatMaxTokens, ChatTemplateForms.OPENAI);
  }

  OpenAiRequest chat(JsonNode body) {
    JsonFields f = new JsonFields(body, "");
    f.requireKnown(CHAT, "/v1/chat/completions");
    JsonNode messages = f.get("messages").orElseThrow(() ->
        OpenAiException.badRequest("messages", "'messages' is required"));
    if (!messages.isArray() || messages.isEmpty()) {
      throw OpenAiException.badRequest("messages", "'messages' must be a non-empty array of message objects");
    }
    List<ChatMessage> list = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      list.add(message(messages.get(i), "messages[" + i + "]."));
    }
    Optional<JsonNode> choice = f.get("tool_choice");
    String toolChoice = choice.filter(JsonNode::isObject).isPresent() ? "function"
        : f.string("tool_choice").orElse("auto");
    if (!List.of("auto", "none", "required", "function").contains(toolChoice)) {
      throw OpenAiException.badRequest("tool_choice", "'tool_choice' must be \"auto\", \"none\", \"required\" or "
          + "{\"type\": \"function\", \"function\": {\"name\": ...}}, got \"" + toolChoice + "\"");
    }
    List<Map<String, Object>> tools = toolChoice.equals("none") ? List.of() : tools(f);
    Optional<io.autoglm.ResponseFormat> forced = forcedCall(toolChoice, choice, tools);
    boolean parallelToolCalls = f.bool("parallel_tool_calls").orElse(true);
    OutputParsing parsing = !tools.isEmpty() ? OutputParsing.REASONING_AND_TOOL_CALLS
        : forms.thinking() ? OutputParsing.REASONING : OutputParsing.RAW;
    Map<String, Object> kwargs = templateKwargs(f);
    Optional<io.autoglm.ResponseFormat> format = responseFormat(f);
    OptionalLong maxCompletion = f.integer("max_completion_tokens", 1, Integer.MAX_VALUE);
    OptionalLong maxTokens = f.integer("max_tokens", 1, Integer.MAX_VALUE);
    int max = (int) (maxCompletion.isPresent() ? maxCompletion.getAsLong()
        : maxTokens.orElse(defaultChatMaxTokens));
    if (forced.isPresent() && format.isPresent()) {
      throw OpenAiException.badRequest("response_format", "'response_format' cannot be combined with 'tool_choice' "
          + toolChoice + ": a forced call already fixes the answer's shape");
    }
    ChatPrompt chat = prompt(forms.adapt(list), tools, kwargs);
    OpenAiRequest r = common(f, Optional.of(chat), Optional.empty(), max, false);
    OpenAiRequest formatted = forced.or(() -> format).map(fmt -> new OpenAiRequest(r.model(), r.chat(), r.prompt(),
        r.sampling().toBuilder().responseFormat(fmt).build(), r.n(), r.stream(), r.includeUsage(), r.user(),
        r.echo())).orElse(r);
    return formatted.withToolHandling(parsing, parallelToolCalls);
  }

  private static Map<String, Object> templateKwargs(JsonFields f) {
    Map<String, Object> kwargs = new LinkedHashMap<>();
    f.get("chat_template_kwargs").ifPresent(k -> {
      if (!k.isObject()) {
        throw f.wrongType("chat_template_kwargs", "an object", k);
      }
      k.properties().forEach(e -> kwargs.put(e.getKey(), Json.plain(e.getValue())));
    });
    return kwargs;
  }

  private static Optional<io.autoglm.ResponseFormat> responseFormat(JsonFields f) {
    // response_format: text (free), json_object (any object), json_schema {name, schema, strict}; a schema keyword
    // the grammar cannot enforce is refused at submit with a 400 naming it; strict false is enforced as strict
    return f.get("response_format").flatMap(r -> {
      String type = r.isObject() && r.get("type") != null && r.get("type").isString() ? r.get("type").asString() : "";
      switch (type) {
        case "text":
          return Optional.empty();
        case "json_object":
          return Optional.of(io.autoglm.ResponseFormat.jsonObject());
        case "json_schema":
          JsonNode js = r.get("json_schema");
          if (js == null || !js.isObject() || js.get("schema") == null || !js.get("schema").isObject()) {
            throw OpenAiException.badRequest("response_format", "'response_format.json_schema.schema' must be a "
                + "JSON Schema object");
          }
          try {
            return Optional.of(io.autoglm.ResponseFormat.jsonSchema(js.get("schema").toString()));
          } catch (IllegalArgumentException e) {
            throw OpenAiException.badRequest("response_format", e.getMessage());
          }
        default:
          throw OpenAiException.unsupported("response_format", "'response_format.type' must be \"text\", "
              + "\"json_object\" or \"json_schema\", got " + r.get("type"));
      }
    });
  }

  OpenAiRequest completion(JsonNode body) {
    JsonFields f = new JsonFields(body, "");
    f.requireKnown(COMPLETION, "/v1/completions");
    JsonNode p = f.get("prompt").orElseThrow(() -> OpenAiException.badRequest("prompt", "'prompt' is required"));
    String prompt;
    if (p.isString()) {
      prompt = p.stringValue();
    } else if (p.isArray() && p.size() == 1 && p.get(0).isString()) {
      prompt = p.get(0).stringValue();
    } else {
      throw OpenAiException.unsupported("prompt", "'prompt' must be a string (or an array of one string): token-id "
          + "and batched prompts are not supported");
    }
    if (f.get("suffix").isPresent()) {
      throw OpenAiException.unsupported("suffix", "'suffix' is not supported: GLM models have no insertion mode");
    }
    OptionalLong bestOf = f.integer("best_of", 1, maxChoices);
    int max = (int) f.integer("max_tokens", 1, Integer.MAX_VALUE).orElse(COMPLETION_DEFAULT_MAX_TOKENS);
    OpenAiRequest r = common(f, Optional.empty(), Optional.of(prompt), max, f.bool("echo").orElse(false));
    if (r.echo() && r.sampling().logprobs().isPresent()) {
      throw OpenAiException.unsupported("echo", "'echo' cannot be combined with 'logprobs': the prompt's logprobs "
          + "are not computed");
    }
    if (bestOf.isPresent() && bestOf.getAsLong() != r.n()) {
      throw OpenAiException.unsupported("best_of", "'best_of' (" + bestOf.getAsLong() + ") must equal n (" + r.n()
          + "): choosing the best of several candidates is not supported");
    }
    return r;
  }

  private OpenAiRequest common(JsonFields f, Optional<ChatPrompt> chat, Optional<String> prompt, int maxTokens,
      boolean echo) {
    int n = (int) f.integer("n", 1, maxChoices).orElse(1);
    boolean stream = f.bool("stream").orElse(false);
    boolean includeUsage = false;
    Optional<JsonNode> options = f.get("stream_options");
    if (options.isPresent()) {
      if (!stream) {
        throw OpenAiException.badRequest("stream_options", "'stream_options' is only allowed when 'stream' is true");
      }
      JsonFields o = new JsonFields(options.get(), "stream_options.");
      o.requireKnown(Set.of("include_usage"), "stream_options");
      includeUsage = o.bool("include_usage").orElse(false);
    }
    SamplingParams.Builder s = SamplingParams.builder()
        .maxNewTokens(maxTokens)
        .temperature(f.number("temperature", 0, 2).orElse(defaultTemperature))
        .topP(topP(f))
        .topK((int) Math.max(0, f.integer("top_k", -1, Integer.MAX_VALUE).orElse(0))) // -1: off, as in vLLM
        .ignoreEos(f.bool("ignore_eos").orElse(false))
        .stop(stop(f))
        .presencePenalty(f.number("presence_penalty", -2, 2).orElse(0))
        .frequencyPenalty(f.number("frequency_penalty", -2, 2).orElse(0))
        .repetitionPenalty(repetitionPenalty(f))
        .minP(f.number("min_p", 0, 1).orElse(0))
        .logitBias(logitBias(f));
    logprobs(f, chat.isPresent()).ifPresent(s::logprobs);
    f.integer("seed", Long.MIN_VALUE, Long.MAX_VALUE).ifPresent(s::seed);
    return new OpenAiRequest(f.string("model"), chat, prompt, s.build(), n, stream, includeUsage, f.string("user"),
        echo);
  }

  /** vLLM's and transformers' repetition penalty: &gt; 0, 1 = off. */
  private static double repetitionPenalty(JsonFields f) {
    double p = f.number("repetition_penalty", 0, 1e6).orElse(1);
    if (p == 0) {
      throw OpenAiException.badRequest("repetition_penalty", "'repetition_penalty' is 0; expected a number > 0 "
          + "(1 = off)");
    }
    return p;
  }

  /** {@code logit_bias}: an object from token ids (as strings) to biases in [-100, 100]. */
  private static Map<Integer, Float> logitBias(JsonFields f) {
    Optional<JsonNode> v = f.get("logit_bias");
    if (v.isEmpty()) {
      return Map.of();
    }
    if (!v.get().isObject()) {
      throw f.wrongType("logit_bias", "an object from token ids to numbers", v.get());
    }
    Map<Integer, Float> out = new LinkedHashMap<>();
    JsonFields b = new JsonFields(v.get(), "logit_bias.");
    for (String key : v.get().propertyNames()) {
      int id;
      try {
        id = Integer.parseInt(key);
      } catch (NumberFormatException e) {
        id = -1;
      }
      if (id < 0) {
        throw OpenAiException.badRequest("logit_bias", "'logit_bias' key \"" + key + "\" is not a token id; "
            + "expected an integer >= 0 as a string");
      }
      double bias = b.number(key, -100, 100).orElseThrow(() -> OpenAiException.badRequest("logit_bias",
          "'logit_bias." + key + "' is null; expected a number in [-100, 100]"));
      out.put(id, (float) bias);
    }
    return out;
  }

  /**
   * How many top alternatives each token carries, when logprobs are asked for. Chat: {@code logprobs} true, with
   * {@code top_logprobs} (0 to 20) allowed only then, as OpenAI has it; completions: {@code logprobs} 0 to 20.
   */
  private static java.util.OptionalInt logprobs(JsonFields f, boolean chat) {
    if (!chat) {
      OptionalLong n = f.integer("logprobs", 0, SamplingParams.MAX_TOP_LOGPROBS);
      return n.isPresent() ? java.util.OptionalInt.of((int) n.getAsLong()) : java.util.OptionalInt.empty();
    }
    boolean on = f.bool("logprobs").orElse(false);
    OptionalLong top = f.integer("top_logprobs", 0, SamplingParams.MAX_TOP_LOGPROBS);
    if (top.isPresent() && !on) {
      throw OpenAiException.badRequest("top_logprobs", "'top_logprobs' needs 'logprobs' true");
    }
    return on ? java.util.OptionalInt.of((int) top.orElse(0)) : java.util.OptionalInt.empty();
  }

  private static double topP(JsonFields f) {
    double p = f.number("top_p", 0, 1).orElse(1);
    if (p == 0) {
      throw OpenAiException.badRequest("top_p", "'top_p' is 0; expected a number in (0, 1]");
    }
    return p;
  }

  private static List<String> stop(JsonFields f) {
    Optional<JsonNode> v = f.get("stop");
    if (v.isEmpty()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    if (v.get().isString()) {
      out.add(v.get().stringValue());
    } else if (v.get().isArray()) {
      for (JsonNode s : v.get().values()) {
        if (!s.isString()) {
          throw f.wrongType("stop", "a string or an array of strings", v.get());
        }
        out.add(s.stringValue());
      }
    } else {
      throw f.wrongType("stop", "a string or an array of strings", v.get());
    }
    if (out.stream().anyMatch(String::isEmpty)) {
      throw OpenAiException.badRequest("stop", "'stop' strings must not be empty");
    }
    return out;
  }

  /**
   * The grammar of a forced call: {@code required} (any of the tools) or a named function
   * ({@code {"type": "function", "function": {"name": N}}}, N one of the tools); empty for auto and none.
   */
  private static Optional<io.autoglm.ResponseFormat> forcedCall(String toolChoice, Optional<JsonNode> choice,
      List<Map<String, Object>> tools) {
    if (toolChoice.equals("auto") || toolChoice.equals("none")) {
      return Optional.empty();
    }
    if (tools.isEmpty()) {
      throw OpenAiException.badRequest("tool_choice", "'tool_choice' " + toolChoice + " needs 'tools', got none");
    }
    Optional<String> name = Optional.empty();
    if (toolChoice.equals("function")) {
      JsonNode c = choice.orElseThrow();
      JsonNode n = c.path("function").path("name");
      if (!"function".equals(c.path("type").asString("")) || !n.isString() || n.asString().isEmpty()) {
        throw OpenAiException.badRequest("tool_choice", "'tool_choice' must be {\"type\": \"function\", "
            + "\"function\": {\"name\": NAME}} with a non-empty name, got " + c);
      }
      name = Optional.of(n.asString());
    }
    try {
      return Optional.of(io.autoglm.ResponseFormat.toolCall(tools, name));
    } catch (IllegalArgumentException e) {
      throw OpenAiException.badRequest(name.isPresent() ? "tool_choice.function.name" : "tools", e.getMessage());
    }
  }

  private static List<Map<String, Object>> tools(JsonFields f) {
    Optional<JsonNode> v = f.get("tools");
    if (v.isEmpty()) {
      return List.of();
    }
    if (!v.get().isArray()) {
      throw f.wrongType("tools", "an array of tool objects", v.get());
    }
    List<Map<String, Object>> tools = new ArrayList<>();
    for (int i = 0; i < v.get().size(); i++) {
      JsonNode t = v.get().get(i);
      if (!t.isObject()) {
        throw OpenAiException.badRequest("tools[" + i + "]", "'tools[" + i + "]' must be an object");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> tool = (Map<String, Object>) Json.plain(t);
      tools.add(tool);
    }
    return tools;
  }

  private static ChatMessage message(JsonNode m, String prefix) {
    String at = prefix.substring(0, prefix.length() - 1);
    if (!m.isObject()) {
      throw OpenAiException.badRequest(at, "'" + at + "' must be a message object");
    }
    JsonFields f = new JsonFields(m, prefix);
    f.requireKnown(MESSAGE, "chat messages");
    String role = f.string("role").orElseThrow(() ->
        OpenAiException.badRequest(f.param("role"), "'" + f.param("role") + "' is required"));
    if (role.equals("developer")) { // OpenAI's newer name for the system role
      role = "system";
    }
    if (!ChatMessage.ROLES.contains(role)) {
      throw OpenAiException.badRequest(f.param("role"), "'" + f.param("role") + "' is '" + role
          + "'; expected one of system, developer, user, assistant, tool, observation");
    }
    if (f.get("refusal").isPresent()) { // clients send back an answer's "refusal": null with its tool calls
      throw OpenAiException.unsupported(f.param("refusal"), "'" + f.param("refusal") + "' must be null: chat "
          + "templates do not render refusals");
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    for (String name : new String[] {"name", "tool_calls", "tool_call_id", "reasoning_content"}) {
      f.get(name).ifPresent(v -> fields.put(name, Json.plain(v)));
    }
    try {
      return new ChatMessage(role, content(f), fields);
    } catch (IllegalArgumentException e) {
      throw OpenAiException.badRequest(at, e.getMessage());
    }
  }

  /**
   * A string, or an array of {@code {"type": "text", "text": ...}} parts, kept as parts (the template sees the list,
   * as transformers passes it); images and audio are rejected.
   */
  private static ChatMessage.Content content(JsonFields f) {
    Optional<JsonNode> c = f.get("content");
    if (c.isEmpty()) {
      return ChatMessage.Content.text("");
    }
    if (c.get().isString()) {
      return ChatMessage.Content.text(c.get().stringValue());
    }
    if (!c.get().isArray()) {
      throw f.wrongType("content", "a string or an array of text parts", c.get());
    }
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < c.get().size(); i++) {
      JsonFields part = new JsonFields(c.get().get(i), f.param("content") + "[" + i + "].");
      String type = part.string("type").orElse("");
      if (!type.equals("text")) {
        throw OpenAiException.unsupported(part.param("type"), "'" + part.param("type") + "' is '" + type
            + "': only text content parts are supported");
      }
      part.requireKnown(Set.of("type", "text"), "text content parts");
      texts.add(part.string("text").orElse(""));
    }
    return new ChatMessage.Content.Parts(texts);
  }

  private static ChatPrompt prompt(List<ChatMessage> messages, List<Map<String, Object>> tools,
      Map<String, Object> kwargs) {
    try {
      return new ChatPrompt(messages, tools, true, kwargs);
    } catch (IllegalArgumentException e) {
      throw OpenAiException.badRequest(tools.isEmpty() ? "chat_template_kwargs" : null, e.getMessage());
    }
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    java.util.HashSet<String> s = new java.util.HashSet<>(a);
    s.addAll(b);
    return Set.copyOf(s);
  }
}
