package io.autoglm.fuzz;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;

/**
 * JSON value texts of every type, weighted toward what breaks config readers: integers at and past the int and long
 * ranges, fractions and exponents (1e12, 2.0, 1e999, 1e-400), numbers in strings, booleans, null, lists and objects
 * (two levels deep), the class names and rope types the config knows.
 */
final class JsonValues {
  private JsonValues() {}

  static Arbitrary<String> scalar() {
    return Arbitraries.oneOf(
        Arbitraries.integers().between(-3, 20).map(String::valueOf),
        Arbitraries.longs().map(String::valueOf),
        Arbitraries.of("2147483647", "2147483648", "-2147483649", "9223372036854775808", "99999999999999999999999",
            "1e12", "2.0", "0.5", "1e999", "-1e999", "1e-400", "-0", "0.0", "1.5625e-07", "1E+2", "123456789012"),
        Arbitraries.doubles().map(String::valueOf),
        Arbitraries.strings().alpha().numeric().ofMaxLength(8).map(s -> "\"" + s + "\""),
        Arbitraries.of("\"12\"", "\"abc\"", "\"\"", "\"default\"", "\"yarn\"", "\"GlmForCausalLM\"", "\"\\ud800\"",
            "true", "false", "null"));
  }

  static Arbitrary<String> value() {
    Arbitrary<String> list = scalar().list().ofMaxSize(4).map(l -> "[" + String.join(", ", l) + "]");
    Arbitrary<String> object = net.jqwik.api.Combinators.combine(
        Arbitraries.of("rope_theta", "rope_type", "type", "partial_rotary_factor", "factor", "x"), scalar())
        .as((k, v) -> "\"" + k + "\": " + v).list().ofMaxSize(3).map(l -> "{" + String.join(", ", l) + "}");
    Arbitrary<String> nested = list.list().ofMaxSize(3).map(l -> "[" + String.join(", ", l) + "]");
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(6, scalar()),
        net.jqwik.api.Tuple.of(2, list),
        net.jqwik.api.Tuple.of(2, object),
        net.jqwik.api.Tuple.of(1, nested),
        net.jqwik.api.Tuple.of(1, Arbitraries.of("[\"GlmForCausalLM\"]", "[\"Glm4ForCausalLM\"]",
            "[\"Glm4MoeForCausalLM\"]", "[\"LlamaForCausalLM\"]", "[5]")));
  }
}
