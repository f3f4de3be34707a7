package io.autoglm.grammar;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.util.List;

/**
 * The reference: a standard JSON Schema validator (networknt, draft 2020-12, formats asserted) and a strict JSON
 * parser.
 */
public final class SchemaOracle {
  private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
  private final Schema schema;

  public SchemaOracle(String schemaJson) {
    this.schema = REGISTRY.getSchema(schemaJson, InputFormat.JSON);
  }

  /** The validator's errors for {@code json}, or one error when it is not JSON at all; empty when valid. */
  public List<String> errors(String json) {
    try {
      new tools.jackson.databind.ObjectMapper().readTree(json);
    } catch (RuntimeException e) {
      return List.of("not JSON: " + e.getMessage());
    }
    // format is only an annotation in 2020-12 unless asserted: assert it, so "format": "date" is checked too
    return schema.validate(json, InputFormat.JSON, ctx -> ctx.executionConfig(c -> c.formatAssertionsEnabled(true)))
        .stream().map(Error::toString).toList();
  }

  public boolean valid(String json) {
    return errors(json).isEmpty();
  }
}
