package io.autoglm.tokenizer;

import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A model's own Jinja chat template, rendered as transformers' {@code apply_chat_template(tokenize=False)} renders
 * it. Variables: {@code messages}, {@code tools} (none when empty), {@code add_generation_prompt}, the prompt's
 * kwargs, and the special-token strings of tokenizer_config.json ({@code eos_token}, ...). The prompt's tools go
 * where the template reads them ({@link ToolSupport}): the {@code tools} variable, or a system message put first
 * for templates that read a message's {@code tools} key (glm-4-9b-chat); a template that reads neither fails a
 * prompt with tools rather than drop them. Thread-safe.
 */
public final class ChatTemplate {
  private static final String[] TOKEN_VARS = {"bos_token", "eos_token", "pad_token", "unk_token"};

  private final String source;
  private final Map<String, Object> tokenVars; // e.g. eos_token → "<|endoftext|>"
  private final Jinjava jinjava = JinjaEnvironment.create();
  private final ToolSupport toolSupport;

  private ChatTemplate(String source, Map<String, Object> tokenVars) {
    Objects.requireNonNull(source, "source");
    // Jinja's keep_trailing_newline=False (transformers' setting): one trailing newline of the source is dropped.
    this.source = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
        : source.endsWith("\n") || source.endsWith("\r") ? source.substring(0, source.length() - 1) : source;
    this.tokenVars = Map.copyOf(tokenVars);
    this.toolSupport = ToolSupport.probe(vars -> {
      Map<String, Object> ctx = new HashMap<>(this.tokenVars);
      ctx.putAll(vars);
      return renderRaw(ctx);
    });
  }

  /** A template from its source text, with no special-token variables. */
  public static ChatTemplate of(String source) {
    return new ChatTemplate(source, Map.of());
  }

  /**
   * The template in {@code dir}: {@code chat_template.jinja}, else {@code tokenizer_config.json}'s
   * {@code chat_template} (a string, or the entry named "default" of a list).
   *
   * @throws ModelLoadException when the folder has neither
   */
  public static ChatTemplate load(Path dir) {
    return find(dir).orElseThrow(() -> new ModelLoadException("no chat template in " + dir
        + ": expected chat_template.jinja or a tokenizer_config.json with 'chat_template'"));
  }

  static Optional<ChatTemplate> find(Path dir) {
    JsonObject config = TokenizerFiles.readJson(dir.resolve("tokenizer_config.json")).orElseGet(JsonObject::new);
    Map<String, Object> vars = new HashMap<>();
    for (String name : TOKEN_VARS) {
      JsonElement e = config.get(name);
      if (e != null && e.isJsonPrimitive()) {
        vars.put(name, e.getAsString());
      } else if (e != null && e.isJsonObject() && e.getAsJsonObject().has("content")) {
        vars.put(name, e.getAsJsonObject().get("content").getAsString());
      }
    }
    Path jinja = dir.resolve("chat_template.jinja");
    if (Files.isRegularFile(jinja)) {
      try {
        return Optional.of(new ChatTemplate(Files.readString(jinja), vars));
      } catch (IOException e) {
        throw new ModelLoadException("cannot read " + jinja + ": " + e.getMessage(), e);
      }
    }
    JsonElement t = config.get("chat_template");
    if (t != null && t.isJsonPrimitive()) {
      return Optional.of(new ChatTemplate(t.getAsString(), vars));
    }
    if (t != null && t.isJsonArray()) {
      for (JsonElement entry : t.getAsJsonArray()) {
        JsonObject o = entry.getAsJsonObject();
        if ("default".equals(o.get("name").getAsString())) {
          return Optional.of(new ChatTemplate(o.get("template").getAsString(), vars));
        }
      }
    }
    return Optional.empty();
  }

  /** The template's Jinja source (one trailing newline dropped, as Jinja does). */
  public String source() {
    return source;
  }

  /**
   * Whether the template renders an assistant message's OpenAI-shaped {@code tool_calls} (GLM-4.5's does;
   * glm-4-9b-chat's renders a call as an assistant message whose {@code metadata} is the function name).
   */
  public boolean rendersToolCalls() {
    return toolSupport.toolCalls();
  }

  /** The rendered prompt text. */
  public String render(ChatPrompt prompt) {
    return renderRaw(context(prompt, UnaryOperator.identity()));
  }

  /** Renders with exactly these variables (nothing else defined); for tests of the engine's Python parity. */
  String renderVariables(Map<String, Object> variables) {
    return renderRaw(new HashMap<>(variables));
  }

  /** One piece of a rendered prompt: a special token the template itself wrote, or text to encode as plain text. */
  record Segment(String text, boolean special) {}

  /**
   * Renders {@code prompt} and splits the output into the template's own special tokens and plain text. Special-token
   * text inside the prompt's strings is swapped for private-use placeholders before rendering, so whatever special
   * token appears in the output was written by the template; the placeholders are swapped back as plain text.
   */
  List<Segment> renderSegments(ChatPrompt prompt, Set<String> specialTokens) {
    PlaceholderCodec codec = new PlaceholderCodec(specialTokens);
    Map<String, Object> ctx = context(prompt, codec::hide);
    ctx.put(PlaceholderCodec.CONTEXT_KEY, codec);
    return codec.segments(renderRaw(ctx));
  }

  private Map<String, Object> context(ChatPrompt prompt, UnaryOperator<String> strings) {
    Map<String, Object> ctx = new HashMap<>(tokenVars);
    List<Object> messages = new ArrayList<>();
    for (ChatMessage m : prompt.messages()) {
      messages.add(deepMap(templateMap(m), strings));
    }
    @SuppressWarnings("unchecked")
    List<Object> tools = (List<Object>) deepMap(prompt.tools(), strings);
    ctx.put("tools", toolSupport.place(messages, tools));
    ctx.put("messages", messages);
    ctx.put("add_generation_prompt", prompt.addGenerationPrompt());
    for (Map.Entry<String, Object> e : prompt.templateKwargs().entrySet()) {
      ctx.put(e.getKey(), deepMap(e.getValue(), strings));
    }
    return ctx;
  }

  /** A mutable deep copy (Jinjava's namespace and set need mutable maps) with {@code f} applied to strings. */
  private static Object deepMap(Object v, UnaryOperator<String> f) {
    if (v instanceof String s) {
      return f.apply(s);
    }
    if (v instanceof Map<?, ?> map) {
      Map<String, Object> copy = new java.util.LinkedHashMap<>();
      map.forEach((k, x) -> copy.put(String.valueOf(k), deepMap(x, f)));
      return copy;
    }
    if (v instanceof List<?> list) {
      List<Object> copy = new ArrayList<>();
      list.forEach(x -> copy.add(deepMap(x, f)));
      return copy;
    }
    return v;
  }

  private String renderRaw(Map<String, Object> ctx) {
    RenderResult result;
    try {
      result = jinjava.renderForResult(source, ctx);
    } catch (RuntimeException e) {
      throw failure(e, e.getMessage());
    }
    for (TemplateError error : result.getErrors()) {
      if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
        throw failure(error.getException(), error.getMessage() + " (line " + error.getLineno() + ")");
      }
    }
    return result.getOutput();
  }

  private static RuntimeException failure(Throwable cause, String message) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof JinjaEnvironment.TemplateRejection) {
        return new IllegalArgumentException("the chat template rejected the conversation: " + t.getMessage(), t);
      }
    }
    return new IllegalStateException("chat template failed to render: " + message, cause);
  }

  /** The template's view of a message: role, content (a string, or the parts as transformers passes them), fields. */
  static Map<String, Object> templateMap(ChatMessage message) {
    Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("role", message.role());
    m.put("content", message.content() instanceof ChatMessage.Content.Parts p ? partsValue(p) : message.content().joined());
    m.putAll(message.fields());
    return m;
  }

  /** Content parts as transformers passes them: a list of {@code {"type": "text", "text": ...}} maps. */
  private static List<Object> partsValue(ChatMessage.Content.Parts p) {
    List<Object> parts = new ArrayList<>();
    for (String t : p.texts()) {
      Map<String, Object> part = new java.util.LinkedHashMap<>();
      part.put("type", "text");
      part.put("text", t);
      parts.add(part);
    }
    return parts;
  }
}
