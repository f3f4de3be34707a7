package io.autoglm.fuzz;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * JSON value texts of every type, weighted toward what breaks config readers: integers at and past the int and long
 * ranges, fractions and exponents (1e12, 2.0, 1e999, 1e-400), numbers in strings, booleans, null, lists and objects
 * (two levels deep), the class names and rope types the config knows.
 */
public final class JsonValues {
  private static final List<String> SPECIAL = List.of("2147483647", "2147483648", "-2147483649",
      "9223372036854775808", "99999999999999999999999", "1e12", "2.0", "0.5", "1e999", "-1e999", "1e-400", "-0",
      "0.0", "1.5625e-07", "1E+2", "123456789012", "\"12\"", "\"abc\"", "\"\"", "\"default\"", "\"yarn\"",
      "\"GlmForCausalLM\"", "\"\\ud800\"", "true", "false", "null");
  private static final List<String> ARCHITECTURES = List.of("[\"GlmForCausalLM\"]", "[\"Glm4ForCausalLM\"]",
      "[\"Glm4MoeForCausalLM\"]", "[\"LlamaForCausalLM\"]", "[5]");
  private static final List<String> KEYS = List.of("rope_theta", "rope_type", "type", "partial_rotary_factor",
      "factor", "x");

  private JsonValues() {}

  public static String scalar(SplittableRandom r) {
    return switch (r.nextInt(6)) {
      case 0 -> String.valueOf(r.nextInt(-3, 21));
      case 1 -> String.valueOf(r.nextLong());
      case 2 -> String.valueOf(r.nextDouble() * Math.pow(10, r.nextInt(-12, 13)) * (r.nextBoolean() ? 1 : -1));
      case 3 -> "\"" + Fuzz.chars(r, "abcxyz0123456789", 8) + "\"";
      default -> Fuzz.pick(r, SPECIAL);
    };
  }

  public static String value(SplittableRandom r) {
    int k = r.nextInt(12);
    if (k < 6) {
      return scalar(r);
    } else if (k < 8) {
      return list(r);
    } else if (k < 10) {
      List<String> fields = new ArrayList<>();
      for (int i = 0, n = r.nextInt(4); i < n; i++) {
        fields.add("\"" + Fuzz.pick(r, KEYS) + "\": " + scalar(r));
      }
      return "{" + String.join(", ", fields) + "}";
    } else if (k < 11) {
      List<String> lists = new ArrayList<>();
      for (int i = 0, n = r.nextInt(4); i < n; i++) {
        lists.add(list(r));
      }
      return "[" + String.join(", ", lists) + "]";
    }
    return Fuzz.pick(r, ARCHITECTURES);
  }

  private static String list(SplittableRandom r) {
    List<String> items = new ArrayList<>();
    for (int i = 0, n = r.nextInt(5); i < n; i++) {
      items.add(scalar(r));
    }
    return "[" + String.join(", ", items) + "]";
  }
}
