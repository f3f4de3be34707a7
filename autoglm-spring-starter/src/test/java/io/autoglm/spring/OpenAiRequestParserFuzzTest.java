package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * Fuzzes the OpenAI request parser (and the engine requests it builds) with arbitrary JSON: only
 * {@link OpenAiException}, as a 400 with a message, may come out; anything else (a NullPointerException, an
 * IllegalArgumentException from a record the parser fed unchecked values, a ClassCastException) is a bug the client
 * would see as a 500. Inputs lean on the field names and values the parser knows, so they reach deep: message
 * lists with every role, content parts, tools, stop lists, numbers at and past every range edge, unpaired surrogates
 * and NULs in strings. jqwik prints the tries of each property; the counts bound the run (a few seconds).
 */
class OpenAiRequestParserFuzzTest {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final List<String> FIELDS = List.of("model", "messages", "prompt", "max_tokens",
      "max_completion_tokens", "temperature", "top_p", "n", "stop", "seed", "presence_penalty", "frequency_penalty",
      "user", "stream", "stream_options", "include_usage", "logprobs", "top_logprobs", "logit_bias", "top_k",
      "ignore_eos", "tools", "tool_choice", "response_format", "type", "chat_template_kwargs", "echo", "best_of",
      "suffix", "role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content", "text", "function",
      "enable_thinking");
  private static final List<String> ROLES = List.of("user", "system", "developer", "assistant", "tool",
      "observation");
  private static final List<String> WORDS = List.of("user", "system", "developer", "assistant", "tool",
      "observation", "text", "image_url", "auto", "none", "required", "json_object", "", "glm-test", "\u0000",
      "<|user|>", "[gMASK]", "{{ raise_exception('x') }}", "{% for %}");

  private final OpenAiRequestParser parser = new OpenAiRequestParser(1.0, 8, 2047);

  @Property(tries = 4000, edgeCases = EdgeCasesMode.NONE)
  void chatBodiesRaiseOnlyOpenAiErrors(@ForAll("chatBodies") JsonNode body) {
    parse(true, body);
  }

  @Property(tries = 3000, edgeCases = EdgeCasesMode.NONE)
  void completionBodiesRaiseOnlyOpenAiErrors(@ForAll("completionBodies") JsonNode body) {
    parse(false, body);
  }

  @Property(tries = 3000, edgeCases = EdgeCasesMode.NONE)
  void anyJsonValueRaisesOnlyOpenAiErrors(@ForAll("values") JsonNode body, @ForAll boolean chat) {
    parse(chat, body);
  }

  /** Raw bytes: a chat body with characters replaced, inserted or cut, through the JSON reader first. */
  @Property(tries = 3000, edgeCases = EdgeCasesMode.NONE)
  void mangledBytesRaiseOnlyOpenAiErrors(@ForAll("mangled") byte[] body) {
    JsonNode tree;
    try {
      tree = Json.object(body);
    } catch (OpenAiException e) {
      assertThat(e.status()).isEqualTo(400);
      Statistics.collect("not a JSON object");
      return;
    }
    parse(true, tree);
  }

  private void parse(boolean chat, JsonNode body) {
    try {
      JsonNode object = body.isObject() ? body : Json.object(Json.bytes(body));
      OpenAiRequest r = chat ? parser.chat(object) : parser.completion(object);
      assertThat(r.textRequests("fuzz", Optional.empty())).hasSize(r.n());
      Statistics.collect("accepted");
    } catch (OpenAiException e) {
      assertThat(e.status()).isEqualTo(400);
      assertThat(e.getMessage()).isNotBlank();
      Statistics.collect("400");
    }
  }

  @Provide
  Arbitrary<JsonNode> chatBodies() {
    Map<String, Arbitrary<JsonNode>> fields = commonFields();
    fields.put("max_completion_tokens", fields.get("max_tokens"));
    fields.put("tools", mostly(tool().list().ofMaxSize(2).map(OpenAiRequestParserFuzzTest::array)));
    fields.put("tool_choice", mostly(Arbitraries.of("auto", "none", "required").map(F::textNode)));
    fields.put("top_logprobs", Arbitraries.integers().between(0, 5).map(F::numberNode));
    fields.put("response_format", mostly(Arbitraries.of("text", "json_object").map(t -> obj("type", F.textNode(t)))));
    fields.put("chat_template_kwargs", mostly(Arbitraries.of(true, false)
        .map(b -> obj("enable_thinking", F.booleanNode(b)))));
    return body(fields, "messages", mostly(message().list().ofMinSize(1).ofMaxSize(4)
        .map(OpenAiRequestParserFuzzTest::array)));
  }

  @Provide
  Arbitrary<JsonNode> completionBodies() {
    Map<String, Arbitrary<JsonNode>> fields = commonFields();
    fields.put("echo", mostly(Arbitraries.of(true, false).map(F::booleanNode)));
    fields.put("best_of", mostly(Arbitraries.integers().between(0, 9).map(F::numberNode)));
    fields.put("suffix", string());
    return body(fields, "prompt", mostly(Arbitraries.oneOf(string(),
        string().list().ofMinSize(1).ofMaxSize(2).map(OpenAiRequestParserFuzzTest::array))));
  }

  /** Each field's values: of the right type and near its range mostly, anything at all now and then. */
  private static Map<String, Arbitrary<JsonNode>> commonFields() {
    Map<String, Arbitrary<JsonNode>> f = new LinkedHashMap<>();
    f.put("model", mostly(Arbitraries.of("glm-test", "gpt-4o").map(F::textNode)));
    f.put("max_tokens", mostly(Arbitraries.integers().between(-1, 5000).map(F::numberNode)));
    f.put("temperature", mostly(Arbitraries.doubles().between(-0.5, 2.5).map(F::numberNode)));
    f.put("top_p", mostly(Arbitraries.doubles().between(-0.1, 1.1).map(F::numberNode)));
    f.put("n", mostly(Arbitraries.integers().between(0, 10).map(F::numberNode)));
    f.put("stop", mostly(Arbitraries.oneOf(string(), string().list().ofMaxSize(3)
        .map(OpenAiRequestParserFuzzTest::array))));
    f.put("seed", mostly(Arbitraries.longs().map(F::numberNode)));
    f.put("presence_penalty", mostly(Arbitraries.of(0.0, 0.0, 0.5, -2.5).map(F::numberNode)));
    f.put("frequency_penalty", mostly(Arbitraries.of(0.0, 0.0, 1.0).map(F::numberNode)));
    f.put("user", string());
    f.put("stream", mostly(Arbitraries.of(true, false).map(F::booleanNode)));
    f.put("stream_options", mostly(Arbitraries.of(true, false).map(b -> obj("include_usage", F.booleanNode(b)))));
    f.put("logprobs", mostly(Arbitraries.of(false, false, true).map(F::booleanNode)));
    f.put("logit_bias", mostly(Arbitraries.of(F.objectNode(), obj("42", F.numberNode(1)))));
    f.put("top_k", mostly(Arbitraries.integers().between(-2, 100).map(F::numberNode)));
    f.put("ignore_eos", mostly(Arbitraries.of(true, false).map(F::booleanNode)));
    return f;
  }

  /** The required field (present in 19 of 20 bodies), up to 5 of the others, and once in a while a stray one. */
  private Arbitrary<JsonNode> body(Map<String, Arbitrary<JsonNode>> fields, String required,
      Arbitrary<JsonNode> requiredValue) {
    Arbitrary<List<String>> names = Arbitraries.subsetOf(fields.keySet()).ofMaxSize(5).map(List::copyOf);
    return names.flatMap(chosen -> {
      List<Arbitrary<JsonNode>> values = new ArrayList<>();
      chosen.forEach(n -> values.add(fields.get(n)));
      values.add(requiredValue);
      values.add(Arbitraries.frequencyOf(Tuple.of(19, Arbitraries.just(F.objectNode())), Tuple.of(1, object(1))));
      return Combinators.combine(values).as(v -> {
        ObjectNode o = F.objectNode();
        for (int i = 0; i < chosen.size(); i++) {
          o.set(chosen.get(i), v.get(i));
        }
        if (Math.floorMod(o.hashCode(), 20) != 0) {
          o.set(required, v.get(chosen.size()));
        }
        o.setAll((ObjectNode) v.get(chosen.size() + 1));
        return (JsonNode) o;
      });
    });
  }

  /** {@code plausible} 9 times in 10, else any JSON value. */
  private static Arbitrary<JsonNode> mostly(Arbitrary<JsonNode> plausible) {
    return Arbitraries.frequencyOf(Tuple.of(9, plausible), Tuple.of(1, scalar()));
  }

  private static ObjectNode obj(String name, JsonNode value) {
    ObjectNode o = F.objectNode();
    o.set(name, value);
    return o;
  }

  private static Arbitrary<JsonNode> tool() {
    return string().map(name -> {
      ObjectNode fn = obj("name", name);
      fn.set("parameters", obj("type", F.textNode("object")));
      ObjectNode t = obj("type", F.textNode("function"));
      t.set("function", fn);
      return (JsonNode) t;
    });
  }

  @Provide
  Arbitrary<JsonNode> values() {
    return value(3);
  }

  @Provide
  Arbitrary<byte[]> mangled() {
    List<String> bodies = List.of("{\"model\":\"glm-test\",\"messages\":[{\"role\":\"user\",\"content\":"
        + "[{\"type\":\"text\",\"text\":\"hi\"}]}],\"max_tokens\":5,\"stop\":[\"a\"],\"stream\":true,"
        + "\"stream_options\":{\"include_usage\":true},\"temperature\":0.5}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"top_p\":1e400,"
        + "\"seed\":1e400,\"n\":1.0,\"max_tokens\":-0,\"temperature\":-1e-400,\"top_k\":99999999999999999999}");
    Arbitrary<String> edits = Arbitraries.strings().withChars("{}[]\",:\\0123456789.eE-+ntfalsure\u0000\ud800")
        .ofMaxLength(4);
    return Combinators.combine(Arbitraries.of(bodies), Arbitraries.integers().between(0, 200),
        Arbitraries.integers().between(0, 6), edits).as((valid, where, cut, insert) -> {
          int at = Math.min(where, valid.length());
          String s = valid.substring(0, at) + insert + valid.substring(Math.min(valid.length(), at + cut));
          return s.getBytes(StandardCharsets.UTF_8);
        });
  }

  private Arbitrary<JsonNode> message() {
    Arbitrary<JsonNode> content = Arbitraries.frequencyOf(Tuple.of(6, string()),
        Tuple.of(2, part().list().ofMaxSize(3).map(OpenAiRequestParserFuzzTest::array)), Tuple.of(1, value(1)));
    Arbitrary<JsonNode> role = Arbitraries.frequencyOf(Tuple.of(9, Arbitraries.of(ROLES)), Tuple.of(1, string()))
        .map(r -> r instanceof String x ? F.textNode(x) : (JsonNode) r);
    Arbitrary<JsonNode> extra = Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just(F.objectNode())),
        Tuple.of(1, object(1)));
    return Combinators.combine(role, content, extra).as((r, c, rest) -> {
      ObjectNode o = obj("role", r);
      o.set("content", c);
      o.setAll((ObjectNode) rest);
      return o;
    });
  }

  private Arbitrary<JsonNode> part() {
    Arbitrary<String> type = Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.just("text")),
        Tuple.of(1, Arbitraries.of(WORDS)));
    return Combinators.combine(type, string()).as((t, text) -> {
      ObjectNode o = obj("type", F.textNode(t));
      o.set("text", text);
      return (JsonNode) o;
    });
  }

  /** An object of up to 4 fields, names mostly from the parser's own. */
  private Arbitrary<JsonNode> object(int depth) {
    Arbitrary<String> names = Arbitraries.frequencyOf(Tuple.of(9, Arbitraries.of(FIELDS)),
        Tuple.of(1, Arbitraries.strings().ofMaxLength(6)));
    return Arbitraries.maps(names, value(depth)).ofMaxSize(4).map(m -> {
      ObjectNode o = F.objectNode();
      m.forEach(o::set);
      return o;
    });
  }

  private Arbitrary<JsonNode> value(int depth) {
    if (depth == 0) {
      return scalar();
    }
    return Arbitraries.frequencyOf(Tuple.of(5, scalar()),
        Tuple.of(2, value(depth - 1).list().ofMaxSize(3).map(OpenAiRequestParserFuzzTest::array)),
        Tuple.of(2, object(depth - 1)));
  }

  private static Arbitrary<JsonNode> scalar() {
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.just(F.nullNode())),
        Tuple.of(1, Arbitraries.of(true, false).map(F::booleanNode)),
        Tuple.of(3, Arbitraries.longs().map(F::numberNode)),
        Tuple.of(2, Arbitraries.of(-2L, -1L, 0L, 1L, 2L, 8L, 9L, 2047L, 2048L, 1L << 31, (1L << 31) - 1)
            .map(F::numberNode)),
        Tuple.of(1, Arbitraries.of(new BigInteger("1" + "0".repeat(30)), BigInteger.TWO.pow(64).negate())
            .map(F::numberNode)),
        Tuple.of(2, Arbitraries.doubles().map(F::numberNode)),
        Tuple.of(1, Arbitraries.of(-0.0, 0.0, 1e-320, 1e308, 2.0000001, 0.5, 1.0, -2.0).map(F::numberNode)),
        Tuple.of(1, Arbitraries.of(new BigDecimal("1e400"), new BigDecimal("-1e-400")).map(F::numberNode)),
        Tuple.of(4, string()));
  }

  private static Arbitrary<JsonNode> string() {
    return Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.of(WORDS)),
        Tuple.of(2, Arbitraries.strings().all().ofMaxLength(12))).map(F::textNode);
  }

  private static JsonNode array(List<JsonNode> items) {
    return F.arrayNode().addAll(items);
  }
}
