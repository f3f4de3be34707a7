package io.autoglm.cuda.tools;

import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.autoglm.AutoGLM;
import io.autoglm.FinishReason;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.ResponseFormat;
import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import io.autoglm.TokenEvent;
import io.autoglm.testkit.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Structured output on the device (issue 19 acceptance 1, CUDA): a random checkpoint at the real GLM-4 vocabulary
 * (gibberish unless constrained) with the real tokenizer; 100 requests per bounded schema at temperature 1, all in
 * flight at once beside free requests, so constrained and free rows share every decode step and the masks are
 * applied on the device. Every result must be JSON that a standard validator (networknt, draft 2020-12) accepts and
 * every stream must add up to its result. Half the requests also ask for logprobs and a presence penalty, so the
 * mask, the penalty and the logprobs kernels run together.
 */
final class SamplingSchemaCheck {
  private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

  /** The acceptance's bounded schemas: the same as autoglm-core's test Schemas. */
  static final Map<String, String> SCHEMAS = Map.of(
      "enums and integer range",
      "{\"type\":\"object\",\"properties\":{\"color\":{\"enum\":[\"red\",\"green\",\"blue\"]},"
          + "\"size\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":120}},"
          + "\"required\":[\"color\",\"size\"],\"additionalProperties\":false}",
      "short strings",
      "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":8},"
          + "\"tag\":{\"type\":\"string\",\"maxLength\":3}},\"required\":[\"name\"],\"additionalProperties\":false}",
      "nested object, number range, array with maxItems",
      "{\"type\":\"object\",\"properties\":{\"point\":{\"type\":\"object\",\"properties\":{"
          + "\"x\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},"
          + "\"y\":{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":2.25}},\"required\":[\"x\",\"y\"],"
          + "\"additionalProperties\":false},"
          + "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":4},"
          + "\"minItems\":1,\"maxItems\":3}},"
          + "\"required\":[\"point\",\"tags\"],\"additionalProperties\":false}",
      "anyOf with null, $ref/$defs, const, boolean",
      "{\"$defs\":{\"id\":{\"type\":\"integer\",\"minimum\":1000,\"maximum\":1005}},\"type\":\"object\","
          + "\"properties\":{\"owner\":{\"anyOf\":[{\"$ref\":\"#/$defs/id\"},{\"type\":\"null\"}]},"
          + "\"ok\":{\"type\":\"boolean\"},\"kind\":{\"const\":\"x\"}},"
          + "\"required\":[\"owner\",\"ok\",\"kind\"],\"additionalProperties\":false}",
      "type list, enum of prefixing numbers",
      "{\"type\":[\"array\",\"null\"],\"items\":{\"enum\":[1,12,123]},\"maxItems\":4}",
      "format date in an array",
      "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"date\"},\"minItems\":1,\"maxItems\":2}");

  private SamplingSchemaCheck() {}

  static boolean run(Path tokenizer, Path work) {
    Path model = work.resolve("glm4-vocab-random-2l");
    if (!Files.exists(model.resolve("config.json"))) {
      RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
          "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16", "num_key_value_heads", "2",
          "max_position_embeddings", "1024"), 1L << 30, 13).write(model, s -> {});
    }
    boolean ok = true;
    try (AutoGLM glm = AutoGLM.builder().modelPath(model).tokenizerPath(tokenizer).backend(SamplingBench.BACKEND)
        .kvBlocks(2048)
        .maxRunningSequences(128).build()) {
      for (Map.Entry<String, String> e : new java.util.TreeMap<>(SCHEMAS).entrySet()) {
        ok &= schema(glm, e.getKey(), e.getValue());
      }
    }
    return ok;
  }

  private static boolean schema(AutoGLM glm, String name, String schemaJson) {
    Schema schema = REGISTRY.getSchema(schemaJson, InputFormat.JSON);
    List<GenerationHandle> handles = new ArrayList<>();
    List<Iterable<TokenEvent>> streams = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < 100; i++) {
      SamplingParams.Builder b = SamplingParams.builder().maxNewTokens(200).temperature(1.0).seed(i)
          .responseFormat(ResponseFormat.jsonSchema(schemaJson));
      if (i % 2 == 1) {
        b.logprobs(3).presencePenalty(0.5);
      }
      GenerationHandle h = glm.submit(TextRequest.completion("Reply in JSON #" + i, b.build()));
      handles.add(h);
      streams.add(h.blockingTokens());
    }
    GenerationHandle free = glm.submit(TextRequest.completion("free text", SamplingParams.builder()
        .maxNewTokens(40).temperature(1.0).ignoreEos(true).build()));
    int valid = 0;
    int streamed = 0;
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < handles.size(); i++) {
      GenerationResult r = handles.get(i).result().join();
      boolean isValid = r.finishReason() == FinishReason.STOP && errors(schema, r.text()).isEmpty()
          && (i % 2 == 0 || r.logprobs().size() == r.tokenIds().size());
      valid += isValid ? 1 : 0;
      if (!isValid && failures.size() < 3) {
        failures.add(r.finishReason() + " " + r.text() + " " + errors(schema, r.text()));
      }
      StringBuilder s = new StringBuilder();
      streams.get(i).forEach(ev -> s.append(ev.text()));
      streamed += s.toString().equals(r.text()) ? 1 : 0;
    }
    boolean freeOk = free.result().join().tokenIds().size() == 40;
    boolean pass = valid == 100 && streamed == 100 && freeOk;
    System.out.printf(Locale.ROOT, "schema %-48s valid %3d/100, streamed == result %3d/100, free row %s, %.1f s: "
        + "%s%s%n", name, valid, streamed, freeOk ? "ok" : "CUT", (System.nanoTime() - t0) / 1e9,
        pass ? "PASS" : "FAIL", failures.isEmpty() ? "" : " e.g. " + failures);
    return pass;
  }

  private static List<String> errors(Schema schema, String json) {
    try {
      new tools.jackson.databind.ObjectMapper().readTree(json);
    } catch (RuntimeException e) {
      return List.of("not JSON: " + e.getMessage());
    }
    return schema.validate(json, InputFormat.JSON, ctx -> ctx.executionConfig(c -> c.formatAssertionsEnabled(true)))
        .stream().map(Object::toString).toList();
  }
}
