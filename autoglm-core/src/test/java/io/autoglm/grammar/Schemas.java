package io.autoglm.grammar;

import java.util.List;

/** Bounded schemas of the acceptance criteria, each with canonical (compact, declared-order) valid documents. */
public final class Schemas {
  /** A schema and documents it accepts, written as the grammar writes them. */
  public record Case(String name, String schema, List<String> valid) {}

  private Schemas() {}

  public static final Case ENUMS = new Case("enums and integer range",
      "{\"type\":\"object\",\"properties\":{\"color\":{\"enum\":[\"red\",\"green\",\"blue\"]},"
          + "\"size\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":120}},"
          + "\"required\":[\"color\",\"size\"],\"additionalProperties\":false}",
      List.of("{\"color\":\"red\",\"size\":-5}", "{\"color\":\"blue\",\"size\":120}",
          "{\"color\":\"green\",\"size\":0}", "{\"color\":\"green\",\"size\":99}"));

  public static final Case STRINGS = new Case("short strings",
      "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":8},"
          + "\"tag\":{\"type\":\"string\",\"maxLength\":3}},\"required\":[\"name\"],\"additionalProperties\":false}",
      List.of("{\"name\":\"a\"}", "{\"name\":\"héllo 🌍\",\"tag\":\"\"}", "{\"name\":\"\\\"\\\\\\n\",\"tag\":\"x/y\"}",
          "{\"name\":\"12345678\",\"tag\":\"中文字\"}"));

  public static final Case NESTED = new Case("nested object, number range, array with maxItems",
      "{\"type\":\"object\",\"properties\":{\"point\":{\"type\":\"object\",\"properties\":{"
          + "\"x\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},"
          + "\"y\":{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":2.25}},\"required\":[\"x\",\"y\"],"
          + "\"additionalProperties\":false},"
          + "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":4},\"minItems\":1,\"maxItems\":3}},"
          + "\"required\":[\"point\",\"tags\"],\"additionalProperties\":false}",
      List.of("{\"point\":{\"x\":0,\"y\":-1.5},\"tags\":[\"\"]}", "{\"point\":{\"x\":9,\"y\":2.25},\"tags\":[\"a\",\"bb\",\"cccc\"]}",
          "{\"point\":{\"x\":3,\"y\":0.000001},\"tags\":[\"q\"]}", "{\"point\":{\"x\":3,\"y\":-0.5},\"tags\":[\"q\",\"r\"]}"));

  public static final Case NULLABLE = new Case("anyOf with null, $ref/$defs, const, boolean",
      "{\"$defs\":{\"id\":{\"type\":\"integer\",\"minimum\":1000,\"maximum\":1005}},\"type\":\"object\","
          + "\"properties\":{\"owner\":{\"anyOf\":[{\"$ref\":\"#/$defs/id\"},{\"type\":\"null\"}]},"
          + "\"ok\":{\"type\":\"boolean\"},\"kind\":{\"const\":\"x\"}},"
          + "\"required\":[\"owner\",\"ok\",\"kind\"],\"additionalProperties\":false}",
      List.of("{\"owner\":null,\"ok\":true,\"kind\":\"x\"}", "{\"owner\":1000,\"ok\":false,\"kind\":\"x\"}",
          "{\"owner\":1005,\"ok\":true,\"kind\":\"x\"}"));

  public static final Case TYPE_LIST = new Case("type list, enum of prefixing numbers",
      "{\"type\":[\"array\",\"null\"],\"items\":{\"enum\":[1,12,123]},\"maxItems\":4}",
      List.of("null", "[]", "[1,12,123,1]", "[123]"));

  public static final Case DATE = new Case("format date in an array",
      "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"date\"},\"minItems\":1,\"maxItems\":2}",
      List.of("[\"2024-02-29\"]", "[\"1999-12-31\",\"0001-01-01\"]", "[\"2023-04-30\"]"));

  public static final List<Case> ALL = List.of(ENUMS, STRINGS, NESTED, NULLABLE, TYPE_LIST, DATE);
}
