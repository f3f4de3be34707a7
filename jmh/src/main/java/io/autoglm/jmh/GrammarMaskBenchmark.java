package io.autoglm.jmh;

import io.autoglm.grammar.GrammarMatcher;
import io.autoglm.grammar.JsonGrammar;
import io.autoglm.grammar.TokenVocabulary;
import io.autoglm.tokenizer.GlmTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Structured output's per-token cost at the GLM-4 vocabulary (151,343 ids): {@code maskPerToken} is one mask
 * ({@link GrammarMatcher#allowedTokens}) and one advance over the next token of a valid document, the documents'
 * tokens taken in turn (the tokenizer's own encoding of nested objects, strings, numbers, enums, arrays). With
 * {@code cache=true} masks come from the per-state cache as they do once a schema has been seen; with
 * {@code cache=false} every mask is computed anew (a schema's first request). {@code compile20Properties} compiles
 * a 20-property schema. SampleTime mode, so JMH reports percentiles (p0.50, p0.99).
 *
 * <p>Run: {@code java -jar jmh/target/autoglm-jmh.jar GrammarMask -p tokenizer=../shared/fixtures/tokenizers/glm-4-9b-chat-hf}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx2g"})
public class GrammarMaskBenchmark {
  private static final String SCHEMA = "{\"type\":\"object\",\"properties\":{"
      + "\"name\":{\"type\":\"string\",\"maxLength\":40},"
      + "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},"
      + "\"score\":{\"type\":\"number\",\"minimum\":-100,\"maximum\":100},"
      + "\"role\":{\"enum\":[\"admin\",\"editor\",\"viewer\"]},"
      + "\"address\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
      + "\"zip\":{\"anyOf\":[{\"type\":\"string\",\"maxLength\":10},{\"type\":\"null\"}]}},"
      + "\"required\":[\"city\",\"zip\"],\"additionalProperties\":false},"
      + "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":12},\"maxItems\":5}},"
      + "\"required\":[\"name\",\"age\",\"score\",\"role\",\"address\",\"tags\"],\"additionalProperties\":false}";
  private static final List<String> DOCUMENTS = List.of(
      "{\"name\":\"Ada Lovelace\",\"age\":36,\"score\":99.5,\"role\":\"admin\",\"address\":{\"city\":\"London\","
          + "\"zip\":\"W1\"},\"tags\":[\"math\",\"engines\"]}",
      "{\"name\":\"李雷 and Han Meimei\",\"age\":7,\"score\":-3.25,\"role\":\"viewer\",\"address\":{\"city\":"
          + "\"Beijing, \\\"north\\\"\",\"zip\":null},\"tags\":[]}",
      "{\"name\":\"x\",\"age\":150,\"score\":0,\"role\":\"editor\",\"address\":{\"city\":\"São Paulo\",\"zip\":"
          + "\"01000-000\"},\"tags\":[\"a\",\"bb\",\"ccc\",\"dddd\",\"eeeee\"]}");

  @Param({"true", "false"})
  public boolean cache;

  @Param("../shared/fixtures/tokenizers/glm-4-9b-chat-hf")
  public String tokenizer;

  private GlmTokenizer tok;
  private TokenVocabulary vocabulary;
  private JsonGrammar grammar;
  private final List<int[]> documents = new ArrayList<>();
  private GrammarMatcher matcher;
  private int doc;
  private int at;
  private String schema20;

  @Setup
  public void setUp() {
    tok = GlmTokenizer.load(Path.of(tokenizer));
    vocabulary = TokenVocabulary.of(tok, List.of(151329, 151336, 151338), cache ? 64L << 20 : 0);
    grammar = JsonGrammar.fromSchema(SCHEMA);
    for (String d : DOCUMENTS) {
      documents.add(tok.encodeText(d));
    }
    matcher = grammar.matcher(vocabulary);
    StringBuilder s = new StringBuilder("{\"type\":\"object\",\"properties\":{");
    for (int i = 0; i < 20; i++) {
      s.append(i == 0 ? "" : ",").append("\"field").append(i).append("\":").append(switch (i % 4) {
        case 0 -> "{\"type\":\"string\",\"maxLength\":30}";
        case 1 -> "{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000}";
        case 2 -> "{\"enum\":[\"a\",\"b\",\"c\"]}";
        default -> "{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"maxItems\":4}";
      });
    }
    schema20 = s.append("},\"additionalProperties\":false}").toString();
  }

  @TearDown
  public void tearDown() {
    tok.close();
  }

  @Benchmark
  public long[] maskPerToken() {
    int[] ids = documents.get(doc);
    long[] mask = matcher.allowedTokens();
    matcher.accept(ids[at++]);
    if (at == ids.length) {
      at = 0;
      doc = (doc + 1) % documents.size();
      matcher = grammar.matcher(vocabulary);
    }
    return mask;
  }

  @Benchmark
  public JsonGrammar compile20Properties() {
    return JsonGrammar.fromSchema(schema20);
  }
}
