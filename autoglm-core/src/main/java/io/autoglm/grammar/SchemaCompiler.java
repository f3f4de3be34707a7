package io.autoglm.grammar;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles a JSON Schema (the subset in docs/structured-output.md) into a {@link Node} graph. Every keyword outside
 * the subset is refused with an {@link IllegalArgumentException} naming it and where it is, never ignored: a
 * keyword the grammar cannot enforce would let invalid output through.
 */
final class SchemaCompiler {
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
  /** Keywords that only annotate: they constrain nothing, so they are accepted and ignored. */
  static final Set<String> ANNOTATIONS = Set.of("title", "description", "$schema", "$id", "$comment",
      "examples", "default", "deprecated", "readOnly", "writeOnly", "$defs", "definitions");
  private static final Set<String> SUPPORTED = Set.of("type", "enum", "const", "anyOf", "nullable", "$ref",
      "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength",
      "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "format");

  private final JsonElement root;
  private final Map<String, Node.Ref> refs = new HashMap<>();

  private SchemaCompiler(JsonElement root) {
    this.root = root;
  }

  static Node compile(JsonElement schema) {
    return new SchemaCompiler(schema).node(schema, "#");
  }

  /** Any JSON value, objects and arrays nested up to the stack bound. */
  static Node anyValue() {
    AnyObjectNode object = new AnyObjectNode();
    Node.Ref any = new Node.Ref();
    Node value = new Node.AnyOf(List.of(object, new ArrayNode(any, 0, Integer.MAX_VALUE),
        new StringNode(0, Integer.MAX_VALUE), NumberNode.of(false, null, false, null, false),
        LiteralNode.of("true", "false", "null")));
    any.resolve(value);
    object.values(value);
    return value;
  }

  /** Any JSON object ({@code json_object} mode). */
  static Node anyObject() {
    AnyObjectNode object = new AnyObjectNode();
    object.values(anyValue());
    return object;
  }

  private Node node(JsonElement schema, String at) {
    if (schema.isJsonPrimitive() && schema.getAsJsonPrimitive().isBoolean()) {
      if (schema.getAsBoolean()) {
        return anyValue();
      }
      throw new IllegalArgumentException(at + ": the schema false (no value allowed) is not supported");
    }
    if (!schema.isJsonObject()) {
      throw new IllegalArgumentException(at + ": a schema must be an object or a boolean, got " + schema);
    }
    JsonObject s = schema.getAsJsonObject();
    for (String key : s.keySet()) {
      if (!SUPPORTED.contains(key) && !ANNOTATIONS.contains(key)) {
        throw new IllegalArgumentException(at + ": keyword '" + key + "' is not supported by structured output "
            + "(supported: " + new java.util.TreeSet<>(SUPPORTED) + ")");
      }
    }
    Node n = bare(s, at);
    if (s.has("nullable") && SchemaFields.bool(s, "nullable", at)) {
      n = new Node.AnyOf(List.of(n, LiteralNode.of("null")));
    }
    return n;
  }

  private Node bare(JsonObject s, String at) {
    if (s.has("$ref")) {
      SchemaFields.only(s, at, "$ref", "nullable");
      return ref(SchemaFields.text(s, "$ref", at), at);
    }
    if (s.has("anyOf")) {
      SchemaFields.only(s, at, "anyOf", "nullable");
      JsonArray options = SchemaFields.array(s, "anyOf", at);
      List<Node> nodes = new ArrayList<>();
      for (int i = 0; i < options.size(); i++) {
        nodes.add(node(options.get(i), at + "/anyOf/" + i));
      }
      return new Node.AnyOf(nodes);
    }
    List<String> types = SchemaFields.types(s, at);
    if (s.has("enum") || s.has("const")) {
      return literals(s, types, at);
    }
    if (types.isEmpty()) {
      return s.has("properties") ? object(s, at) : anyValue();
    }
    List<Node> nodes = new ArrayList<>();
    for (String t : types) {
      nodes.add(typed(t, s, at));
    }
    return nodes.size() == 1 ? nodes.get(0) : new Node.AnyOf(nodes);
  }

  private Node typed(String type, JsonObject s, String at) {
    return switch (type) {
      case "object" -> object(s, at);
      case "array" -> new ArrayNode(s.has("items") ? node(s.get("items"), at + "/items") : anyValue(),
          SchemaFields.count(s, "minItems", 0, at), SchemaFields.count(s, "maxItems", Integer.MAX_VALUE, at));
      case "string" -> string(s, at);
      case "integer", "number" -> number(type.equals("integer"), s, at);
      case "boolean" -> LiteralNode.of("true", "false");
      default -> LiteralNode.of("null");
    };
  }

  private static Node string(JsonObject s, String at) {
    int min = SchemaFields.count(s, "minLength", 0, at);
    int max = SchemaFields.count(s, "maxLength", Integer.MAX_VALUE, at);
    if (!s.has("format")) {
      return new StringNode(min, max);
    }
    String format = SchemaFields.text(s, "format", at);
    if (!format.equals("date")) {
      throw new IllegalArgumentException(at + ": keyword 'format' with value '" + format + "' is not supported "
          + "(supported: date)");
    }
    if (min > 10 || max < 10) {
      throw new IllegalArgumentException(at + ": a date has 10 characters, outside minLength (" + min
          + ") .. maxLength (" + max + ")");
    }
    return DateNode.INSTANCE;
  }

  private Node number(boolean integer, JsonObject s, String at) {
    BigDecimal min = SchemaFields.decimal(s, "minimum", at);
    BigDecimal max = SchemaFields.decimal(s, "maximum", at);
    BigDecimal exMin = SchemaFields.decimal(s, "exclusiveMinimum", at);
    BigDecimal exMax = SchemaFields.decimal(s, "exclusiveMaximum", at);
    boolean exclusiveMin = exMin != null && (min == null || exMin.compareTo(min) >= 0);
    boolean exclusiveMax = exMax != null && (max == null || exMax.compareTo(max) <= 0);
    try {
      return NumberNode.of(integer, exclusiveMin ? exMin : min, exclusiveMin, exclusiveMax ? exMax : max,
          exclusiveMax);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(at + ": " + e.getMessage(), e);
    }
  }

  private Node object(JsonObject s, String at) {
    JsonObject props = s.has("properties") ? SchemaFields.object(s, "properties", at) : new JsonObject();
    Set<String> required = new LinkedHashSet<>();
    if (s.has("required")) {
      for (JsonElement r : SchemaFields.array(s, "required", at)) {
        required.add(r.getAsString());
      }
    }
    for (String r : required) {
      if (!props.has(r)) {
        throw new IllegalArgumentException(at + ": required property '" + r + "' is not declared in properties "
            + props.keySet());
      }
    }
    JsonElement extra = s.get("additionalProperties");
    boolean closed = extra != null && extra.isJsonPrimitive() && !extra.getAsBoolean();
    if (props.size() == 0 && !closed) {
      AnyObjectNode any = new AnyObjectNode();
      any.values(extra == null || extra.isJsonPrimitive() ? anyValue() : node(extra, at + "/additionalProperties"));
      return any;
    }
    List<ObjectNode.Property> list = new ArrayList<>();
    for (Map.Entry<String, JsonElement> p : props.entrySet()) {
      byte[] key = (GSON.toJson(p.getKey()) + ":").getBytes(StandardCharsets.UTF_8);
      list.add(new ObjectNode.Property(p.getKey(), key, node(p.getValue(), at + "/properties/" + p.getKey()),
          required.contains(p.getKey())));
    }
    return new ObjectNode(list);
  }

  private Node literals(JsonObject s, List<String> types, String at) {
    List<JsonElement> values = new ArrayList<>();
    if (s.has("const")) {
      values.add(s.get("const"));
    } else {
      SchemaFields.array(s, "enum", at).forEach(values::add);
    }
    List<byte[]> texts = new ArrayList<>();
    for (JsonElement v : values) {
      if (types.isEmpty() || types.contains(SchemaFields.jsonType(v)) || (types.contains("number") && SchemaFields.jsonType(v).equals("integer"))) {
        texts.add(GSON.toJson(v).getBytes(StandardCharsets.UTF_8));
      }
    }
    if (texts.isEmpty()) {
      throw new IllegalArgumentException(at + ": no value of " + (s.has("const") ? "const" : "enum") + " "
          + values + " has type " + types);
    }
    return new LiteralNode(texts);
  }

  private Node ref(String pointer, String at) {
    Node.Ref existing = refs.get(pointer);
    if (existing != null) {
      return existing;
    }
    if (!pointer.startsWith("#")) {
      throw new IllegalArgumentException(at + ": $ref '" + pointer + "' is not supported: only local refs (#/...)");
    }
    JsonElement target = root;
    for (String part : pointer.substring(1).split("/")) {
      if (part.isEmpty()) {
        continue;
      }
      String name = part.replace("~1", "/").replace("~0", "~");
      if (!target.isJsonObject() || !target.getAsJsonObject().has(name)) {
        throw new IllegalArgumentException(at + ": $ref '" + pointer + "' points at nothing (no '" + name + "')");
      }
      target = target.getAsJsonObject().get(name);
    }
    Node.Ref ref = new Node.Ref();
    refs.put(pointer, ref);
    ref.resolve(node(target, pointer));
    return ref;
  }
}
