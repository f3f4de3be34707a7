package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.grammar.SchemaOracle;
import io.autoglm.grammar.Schemas;
import io.autoglm.testkit.RandomCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Structured output end to end: a random model (gibberish unless constrained) at the real GLM-4 vocabulary, 100
 * requests per schema at temperature 1, all in flight at once next to free requests; every result and every
 * stream must be JSON a standard validator accepts.
 */
class StructuredOutputTest {
  @TempDir static Path dir;
  private static AutoGLM glm;
  private static final io.micrometer.core.instrument.simple.SimpleMeterRegistry METERS =
      new io.micrometer.core.instrument.simple.SimpleMeterRegistry();

  @BeforeAll
  static void load() {
    Path model = dir.resolve("glm-random");
    RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "1", "hidden_size", "32",
        "intermediate_size", "64", "num_attention_heads", "2", "head_dim", "16", "num_key_value_heads", "1",
        "max_position_embeddings", "512"), 1L << 30, 13).write(model, s -> {});
    glm = AutoGLM.builder().modelPath(model).tokenizerPath(Fixtures.root().resolve("tokenizers/glm-4-9b-chat-hf"))
        .kvBlocks(1024).maxRunningSequences(128).meterRegistry(METERS).build();
  }

  @AfterAll
  static void close() {
    glm.close();
  }

  @Test
  void hundredRequestsPerSchemaAtTemperatureOneAllValidate() {
    for (Schemas.Case c : Schemas.ALL) {
      SchemaOracle oracle = new SchemaOracle(c.schema());
      SamplingParams params = SamplingParams.builder().maxNewTokens(200).temperature(1.0)
          .responseFormat(ResponseFormat.jsonSchema(c.schema())).build();
      List<GenerationHandle> handles = new ArrayList<>();
      List<Iterable<TokenEvent>> streams = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        GenerationHandle h = glm.submit(TextRequest.completion("Reply in JSON #" + i, params));
        handles.add(h);
        streams.add(h.blockingTokens());
      }
      GenerationHandle free = glm.submit(TextRequest.completion("free text",
          SamplingParams.builder().maxNewTokens(30).temperature(1.0).ignoreEos(true).build()));
      for (int i = 0; i < handles.size(); i++) {
        GenerationResult r = handles.get(i).result().join();
        assertEquals(FinishReason.STOP, r.finishReason(), c.name() + ": " + r.text());
        assertTrue(oracle.valid(r.text()), c.name() + ": " + r.text() + " " + oracle.errors(r.text()));
        StringBuilder streamed = new StringBuilder();
        streams.get(i).forEach(e -> streamed.append(e.text()));
        assertEquals(r.text(), streamed.toString(), "streamed deltas add up to the result");
      }
      assertEquals(30, free.result().join().tokenIds().size(), "a free request in the same batches is unaffected");
    }
    var stats = glm.grammarCacheStats();
    assertTrue(stats.hits() >= Schemas.ALL.size() * 99L, stats.toString());
    assertEquals(stats.hits(), METERS.get("autoglm.grammar.cache.hits").functionCounter().count());
    assertEquals(stats.misses(), METERS.get("autoglm.grammar.cache.misses").functionCounter().count());
  }

  @Test
  void jsonObjectModeGivesAJsonObjectOrAPrefixCutByLength() {
    SchemaOracle oracle = new SchemaOracle("{\"type\":\"object\"}");
    SamplingParams params = SamplingParams.builder().maxNewTokens(24).temperature(1.0).seed(1)
        .responseFormat(ResponseFormat.jsonObject()).build();
    for (int i = 0; i < 10; i++) {
      GenerationResult r = glm.complete("object " + i, params.toBuilder().seed(i).build());
      if (r.finishReason() == FinishReason.STOP) {
        assertTrue(oracle.valid(r.text()), r.text() + " " + oracle.errors(r.text()));
      } else {
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertTrue(r.text().startsWith("{"), r.text());
      }
    }
  }

  @Test
  void anUnsupportedKeywordFailsAtSubmitNamingIt() {
    SamplingParams params = SamplingParams.builder().responseFormat(ResponseFormat.jsonSchema(
        "{\"type\":\"string\",\"pattern\":\"^a+$\"}")).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> glm.submit(TextRequest.completion("x", params)));
    assertTrue(e.getMessage().contains("'pattern'"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ResponseFormat.jsonSchema("{not json"));
  }
}
