package io.autoglm.spring;

import io.autoglm.fuzz.Fuzz;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the OpenAI request parser (issue 16), and the engine requests it builds, with arbitrary request bodies:
 * only {@link OpenAiException}, as a 400 with a message, may come out; anything else (a NullPointerException, an
 * IllegalArgumentException from a record the parser fed an unchecked value, a Jackson exception) is a bug a client
 * would see as a 500. Bodies lean on what the parser knows so they reach deep: every field with values of its type
 * near and past its range, and now and then any JSON value; message lists with every role, string and part
 * contents, tools; numbers past every range (1e400, 2^64), unpaired surrogates and NULs in strings; and mangled
 * bytes of valid bodies through the JSON reader. Runs on the project's seeded {@link Fuzz} runner: bounded tries and
 * seconds per property, each printing its count, time and seed ("FUZZ ...").
 */
class OpenAiRequestParserFuzzTest {
  private static final int TRIES = 3000;
  private static final List<String> ROLES = List.of("user", "system", "developer", "assistant", "tool",
      "observation");
  private static final List<String> WORDS = List.of("user", "system", "text", "image_url", "auto", "none",
      "required", "json_object", "", "glm-test", "\u0000", "<|user|>", "[gMASK]", "{{ raise_exception('x') }}",
      "{% for %}", "\uD800", "a\uDC00", "😀", "中");
  private static final List<String> NUMBERS = List.of("-1", "0", "1", "2", "8", "9", "2047", "2048", "2147483647",
      "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1e400",
      "-1e400", "1e-400", "-0", "0.0", "0.5", "1.0", "1.5", "2.0000001", "-2.5", "1E+2", "3.0e0");
  private static final List<String> STRAY = List.of("model", "messages", "prompt", "functions", "best_guess", "",
      "include_usage", "type", "text");

  private final OpenAiRequestParser parser = new OpenAiRequestParser(1.0, 8, 2047);

  @Test
  void chatBodies() {
    run("OpenAI chat request parser", true, OpenAiRequestParserFuzzTest::chatBody);
  }

  @Test
  void completionBodies() {
    run("OpenAI completion request parser", false, OpenAiRequestParserFuzzTest::completionBody);
  }

  @Test
  void anyJsonValue() {
    run("OpenAI request parser, any JSON value", true, r -> value(r, 3));
    run("OpenAI request parser, any JSON value (completion)", false, r -> value(r, 3));
  }

  /** A valid chat body with characters replaced, inserted or cut: the JSON reader sees it first. */
  @Test
  void mangledBytes() {
    List<String> valid = List.of("{\"model\":\"glm-test\",\"messages\":[{\"role\":\"user\",\"content\":"
        + "[{\"type\":\"text\",\"text\":\"hi\"}]}],\"max_tokens\":5,\"stop\":[\"a\"],\"stream\":true,"
        + "\"stream_options\":{\"include_usage\":true},\"temperature\":0.5}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"top_p\":1e400,\"seed\":1e400,\"n\":1.0,"
        + "\"max_tokens\":-0,\"temperature\":-1e-400,\"top_k\":99999999999999999999}");
    run("OpenAI request parser, mangled bytes", true, r -> {
      String body = Fuzz.pick(r, valid);
      int at = r.nextInt(body.length() + 1);
      return body.substring(0, at) + Fuzz.chars(r, "{}[]\",:\\0123456789.eE-+ntfalsure\u0000\uD800", 4)
          + body.substring(Math.min(body.length(), at + r.nextInt(7)));
    });
  }

  /** Parses each generated body text (reader, parser, engine requests); 400s are the refusals. */
  private void run(String name, boolean chat, Function<SplittableRandom, String> bodies) {
    Fuzz.forAll(name, TRIES, OpenAiException.class, bodies, (h, body) -> h.run(() -> parse(chat, body),
        () -> body.length() > 2000 ? body.substring(0, 2000) + "…" : body));
  }

  private Object parse(boolean chat, String body) {
    try {
      var tree = Json.object(body.getBytes(StandardCharsets.UTF_8));
      OpenAiRequest r = chat ? parser.chat(tree) : parser.completion(tree);
      if (r.textRequests("fuzz", Optional.empty()).size() != r.n()) {
        throw new AssertionError("n is " + r.n() + " but " + r.textRequests("fuzz", Optional.empty()).size()
            + " engine requests were built");
      }
      return r;
    } catch (OpenAiException e) {
      if (e.status() != 400 || e.getMessage() == null || e.getMessage().isBlank()) {
        throw new AssertionError("a refusal must be a 400 with a message, not " + e.status() + " '"
            + e.getMessage() + "'");
      }
      throw e;
    }
  }

  private static String chatBody(SplittableRandom r) {
    Map<String, Function<SplittableRandom, String>> fields = commonFields();
    fields.put("max_completion_tokens", x -> mostly(x, () -> Fuzz.pick(x, NUMBERS)));
    fields.put("tools", x -> mostly(x, () -> list(x, 2, OpenAiRequestParserFuzzTest::tool)));
    fields.put("tool_choice", x -> mostly(x, () -> quoted(Fuzz.pick(x, List.of("auto", "none", "required")))));
    fields.put("top_logprobs", x -> String.valueOf(x.nextInt(0, 6)));
    fields.put("response_format", x -> mostly(x, () -> "{\"type\":" + quoted(Fuzz.pick(x,
        List.of("text", "json_object"))) + "}"));
    fields.put("chat_template_kwargs", x -> mostly(x, () -> "{\"enable_thinking\":" + x.nextBoolean() + "}"));
    return body(r, fields, "messages", x -> mostly(x, () -> list(x, 4, OpenAiRequestParserFuzzTest::message)));
  }

  private static String completionBody(SplittableRandom r) {
    Map<String, Function<SplittableRandom, String>> fields = commonFields();
    fields.put("echo", x -> mostly(x, () -> String.valueOf(x.nextBoolean())));
    fields.put("best_of", x -> mostly(x, () -> String.valueOf(x.nextInt(0, 10))));
    fields.put("suffix", OpenAiRequestParserFuzzTest::string);
    return body(r, fields, "prompt", x -> mostly(x, () -> x.nextBoolean() ? string(x)
        : list(x, 2, OpenAiRequestParserFuzzTest::string)));
  }

  /** Each field's values: of its type and near its range mostly, any JSON value now and then. */
  private static Map<String, Function<SplittableRandom, String>> commonFields() {
    Map<String, Function<SplittableRandom, String>> f = new LinkedHashMap<>();
    f.put("model", x -> mostly(x, () -> quoted(Fuzz.pick(x, List.of("glm-test", "gpt-4o")))));
    f.put("max_tokens", x -> mostly(x, () -> x.nextBoolean() ? Fuzz.pick(x, NUMBERS) : "" + x.nextInt(-1, 5000)));
    f.put("temperature", x -> mostly(x, () -> x.nextBoolean() ? Fuzz.pick(x, NUMBERS) : "" + x.nextDouble(-.5, 2.5)));
    f.put("top_p", x -> mostly(x, () -> x.nextBoolean() ? Fuzz.pick(x, NUMBERS) : "" + x.nextDouble(-.1, 1.1)));
    f.put("n", x -> mostly(x, () -> String.valueOf(x.nextInt(0, 11))));
    f.put("stop", x -> mostly(x, () -> x.nextBoolean() ? string(x) : list(x, 3, OpenAiRequestParserFuzzTest::string)));
    f.put("seed", x -> mostly(x, () -> x.nextBoolean() ? Fuzz.pick(x, NUMBERS) : "" + x.nextLong()));
    f.put("presence_penalty", x -> mostly(x, () -> Fuzz.pick(x, List.of("0", "0.0", "0.5", "-2.5"))));
    f.put("frequency_penalty", x -> mostly(x, () -> Fuzz.pick(x, List.of("0", "1.0"))));
    f.put("user", OpenAiRequestParserFuzzTest::string);
    f.put("stream", x -> mostly(x, () -> String.valueOf(x.nextBoolean())));
    f.put("stream_options", x -> mostly(x, () -> "{\"include_usage\":" + x.nextBoolean() + "}"));
    f.put("logprobs", x -> mostly(x, () -> Fuzz.pick(x, List.of("false", "false", "true"))));
    f.put("logit_bias", x -> mostly(x, () -> Fuzz.pick(x, List.of("{}", "{\"42\":1}", "{\"42\":101}",
        "{\"x\":1}", "{\"7\":null}"))));
    f.put("top_k", x -> mostly(x, () -> String.valueOf(x.nextInt(-2, 101))));
    f.put("min_p", x -> mostly(x, () -> Fuzz.pick(x, List.of("0", "0.1", "1", "1.5", "-0.1"))));
    f.put("repetition_penalty", x -> mostly(x, () -> Fuzz.pick(x, List.of("1", "1.2", "0", "-1"))));
    f.put("ignore_eos", x -> mostly(x, () -> String.valueOf(x.nextBoolean())));
    return f;
  }

  /** The required field (in 19 of 20 bodies), up to 5 of the others, and in 1 of 20 a stray field. */
  private static String body(SplittableRandom r, Map<String, Function<SplittableRandom, String>> fields,
      String required, Function<SplittableRandom, String> requiredValue) {
    List<String> names = new ArrayList<>(fields.keySet());
    List<String> members = new ArrayList<>();
    if (r.nextInt(20) != 0) {
      members.add(quoted(required) + ":" + requiredValue.apply(r));
    }
    for (int i = 0, n = r.nextInt(6); i < n; i++) {
      String name = names.remove(r.nextInt(names.size()));
      members.add(quoted(name) + ":" + fields.get(name).apply(r));
    }
    if (r.nextInt(20) == 0) {
      members.add(quoted(Fuzz.pick(r, STRAY)) + ":" + value(r, 1));
    }
    java.util.Collections.shuffle(members, new java.util.Random(r.nextLong()));
    return "{" + String.join(",", members) + "}";
  }

  private static String message(SplittableRandom r) {
    String role = r.nextInt(10) == 0 ? string(r) : quoted(Fuzz.pick(r, ROLES));
    int c = r.nextInt(9);
    String content = c < 6 ? string(r) : c < 8 ? list(r, 3, OpenAiRequestParserFuzzTest::part) : value(r, 1);
    String extra = r.nextInt(5) == 0 ? "," + quoted(Fuzz.pick(r, List.of("name", "tool_calls", "tool_call_id",
        "reasoning_content", "refusal"))) + ":" + value(r, 1) : "";
    return "{\"role\":" + role + ",\"content\":" + content + extra + "}";
  }

  private static String part(SplittableRandom r) {
    String type = r.nextInt(9) == 0 ? Fuzz.pick(r, WORDS) : "text";
    return "{\"type\":" + quoted(type) + ",\"text\":" + (r.nextInt(9) == 0 ? value(r, 1) : string(r)) + "}";
  }

  private static String tool(SplittableRandom r) {
    return "{\"type\":\"function\",\"function\":{\"name\":" + string(r) + ",\"parameters\":{\"type\":\"object\"}}}";
  }

  /** {@code plausible} 9 times in 10, else any JSON value. */
  private static String mostly(SplittableRandom r, java.util.function.Supplier<String> plausible) {
    return r.nextInt(10) == 0 ? value(r, 1) : plausible.get();
  }

  /** Any JSON value, nested up to {@code depth}. */
  private static String value(SplittableRandom r, int depth) {
    int k = depth == 0 ? r.nextInt(5) : r.nextInt(9);
    return switch (k) {
      case 0 -> "null";
      case 1 -> String.valueOf(r.nextBoolean());
      case 2, 3 -> Fuzz.pick(r, NUMBERS);
      case 4 -> string(r);
      case 5, 6 -> list(r, 3, x -> value(x, depth - 1));
      default -> {
        List<String> members = new ArrayList<>();
        for (int i = 0, n = r.nextInt(4); i < n; i++) {
          members.add(quoted(Fuzz.pick(r, STRAY)) + ":" + value(r, depth - 1));
        }
        yield "{" + String.join(",", members) + "}";
      }
    };
  }

  private static String list(SplittableRandom r, int max, Function<SplittableRandom, String> item) {
    List<String> items = new ArrayList<>();
    for (int i = 0, n = r.nextInt(max + 1); i < n; i++) {
      items.add(item.apply(r));
    }
    return "[" + String.join(",", items) + "]";
  }

  /** A JSON string: a known word or arbitrary UTF-16 (control characters, unpaired surrogates) escaped. */
  private static String string(SplittableRandom r) {
    return quoted(r.nextInt(3) == 0 ? Fuzz.anyText(r, 12) : Fuzz.pick(r, WORDS));
  }

  private static String quoted(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20 || Character.isSurrogate(c)) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
