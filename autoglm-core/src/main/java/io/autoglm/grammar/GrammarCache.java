package io.autoglm.grammar;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.gson.JsonParser;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Compiled grammars by schema, so that repeated requests with one schema compile it once. Keys are the schema's
 * JSON re-serialized compactly (whitespace differences share an entry); failed compilations are not cached.
 * Thread-safe.
 */
public final class GrammarCache {
  /** Lookups that found a compiled grammar, and those that compiled one. */
  public record Stats(long hits, long misses, long size) {
    public double hitRate() {
      return hits + misses == 0 ? 0 : (double) hits / (hits + misses);
    }
  }

  private static final String ANY_OBJECT = "\u0000json_object";
  private static final String TOOL_CALL = "\u0000tool_call_glm4";
  private final Cache<String, JsonGrammar> grammars;

  /** @param maxGrammars compiled grammars kept at most (least recently used evicted first) */
  public GrammarCache(int maxGrammars) {
    if (maxGrammars < 1) {
      throw new IllegalArgumentException("maxGrammars (" + maxGrammars + ") must be >= 1");
    }
    this.grammars = Caffeine.newBuilder().maximumSize(maxGrammars).recordStats().build();
  }

  /** @throws IllegalArgumentException as {@link JsonGrammar#fromSchema} does */
  public JsonGrammar schema(String schemaJson) {
    String key;
    try {
      key = JsonParser.parseString(schemaJson).toString();
    } catch (com.google.gson.JsonParseException e) {
      throw new IllegalArgumentException("json_schema is not valid JSON: " + e.getMessage(), e);
    }
    return grammars.get(key, JsonGrammar::fromSchema);
  }

  /** @throws IllegalArgumentException as {@link JsonGrammar#toolCallGlm4} does */
  public JsonGrammar toolCallGlm4(List<Map<String, Object>> tools, Optional<String> toolName) {
    String key = TOOL_CALL + new com.google.gson.Gson().toJson(tools) + "\u0000" + toolName.orElse("");
    return grammars.get(key, k -> JsonGrammar.toolCallGlm4(tools, toolName));
  }

  public JsonGrammar anyObject() {
    return grammars.get(ANY_OBJECT, k -> JsonGrammar.anyObject());
  }

  public Stats stats() {
    var s = grammars.stats();
    return new Stats(s.hitCount(), s.missCount(), grammars.estimatedSize());
  }
}
