package io.autoglm.grammar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The grammar against a second implementation: a standard JSON Schema validator over the texts it lets through,
 * and the direct byte-by-byte reading of each token against the trie-walked masks, on the real GLM-4 vocabulary.
 */
class JsonGrammarTest {
  private final TokenVocabulary vocab = Vocabularies.glm4();

  @Test
  void randomWalksThroughTheMaskAlwaysEndInValidJson() {
    Random rnd = new Random(19);
    for (Schemas.Case c : Schemas.ALL) {
      JsonGrammar g = JsonGrammar.fromSchema(c.schema());
      SchemaOracle oracle = new SchemaOracle(c.schema());
      for (int walk = 0; walk < 25; walk++) {
        String text = walk(g.matcher(vocab), rnd, walk % 5 == 0);
        assertTrue(oracle.valid(text), c.name() + ": " + text + " " + oracle.errors(text));
      }
    }
  }

  @Test
  void anyObjectModeWalksEndInJsonObjects() {
    Random rnd = new Random(5);
    SchemaOracle oracle = new SchemaOracle("{\"type\":\"object\"}");
    for (int walk = 0; walk < 10; walk++) {
      GrammarMatcher m = JsonGrammar.anyObject().matcher(vocab);
      String text = walkUpTo(m, rnd, 40);
      if (m.isComplete()) {
        assertTrue(oracle.valid(text), text + " " + oracle.errors(text));
      }
    }
  }

  /** Picks uniformly among allowed ids (eos with probability 1/2 once allowed) until eos; checks each mask. */
  private String walk(GrammarMatcher m, Random rnd, boolean checkMask) {
    StringBuilder text = new StringBuilder();
    List<Integer> out = new ArrayList<>();
    for (int step = 0; step < 400; step++) {
      long[] mask = m.allowedTokens();
      if (checkMask) {
        assertMaskMatchesDirectReading(m, mask, rnd);
      }
      List<Integer> allowed = ids(mask);
      assertFalse(allowed.isEmpty(), "dead end after " + text);
      boolean eosAllowed = allowed.contains(Vocabularies.EOS.get(0));
      if (eosAllowed && (rnd.nextBoolean() || allowed.size() == Vocabularies.EOS.size())) {
        m.accept(Vocabularies.EOS.get(rnd.nextInt(Vocabularies.EOS.size())));
        return utf8(out);
      }
      int id = allowed.get(rnd.nextInt(allowed.size()));
      if (Vocabularies.EOS.contains(id)) {
        continue;
      }
      m.accept(id);
      out.add(id);
      text.setLength(0);
      text.append(utf8(out));
    }
    return fail("no end after 400 tokens: " + text);
  }

  private String walkUpTo(GrammarMatcher m, Random rnd, int tokens) {
    List<Integer> out = new ArrayList<>();
    for (int step = 0; step < tokens; step++) {
      List<Integer> allowed = ids(m.allowedTokens());
      allowed.removeAll(Vocabularies.EOS);
      if (m.isComplete() || allowed.isEmpty()) {
        break;
      }
      int id = allowed.get(rnd.nextInt(allowed.size()));
      m.accept(id);
      out.add(id);
    }
    return utf8(out);
  }

  /** Ids whose bytes hold a quote: the tokens that close strings, read partly by the enclosing value. */
  private static final List<Integer> QUOTED = java.util.stream.IntStream.range(0, Vocabularies.tokenizer().vocabSize())
      .filter(id -> new String(Vocabularies.tokenizer().tokenBytes(id), StandardCharsets.ISO_8859_1).contains("\""))
      .boxed().toList();

  private void assertMaskMatchesDirectReading(GrammarMatcher m, long[] mask, Random rnd) {
    List<Integer> checked = new ArrayList<>(QUOTED);
    for (int k = 0; k < 400; k++) {
      checked.add(rnd.nextInt(vocab.size()));
    }
    for (int id : checked) {
      boolean inMask = ((mask[id >>> 6] >>> id) & 1) != 0 && !Vocabularies.EOS.contains(id);
      assertEquals(m.readable(id), inMask, "token " + id + " '" + utf8(List.of(id)) + "'");
    }
  }

  @Test
  void everyTokenizationOfAValidDocumentIsAcceptedAndComplete() {
    Random rnd = new Random(3);
    for (Schemas.Case c : Schemas.ALL) {
      JsonGrammar g = JsonGrammar.fromSchema(c.schema());
      SchemaOracle oracle = new SchemaOracle(c.schema());
      for (String doc : c.valid()) {
        assertTrue(oracle.valid(doc), "fixture must be valid: " + doc + oracle.errors(doc));
        for (int[] ids : tokenizations(doc, rnd)) {
          assertEquals(Verdict.COMPLETE, feed(g.matcher(vocab), ids), c.name() + ": " + doc);
        }
      }
    }
  }

  @Test
  void mutatedDocumentsTheGrammarCompletesAreValid() {
    Random rnd = new Random(11);
    String alphabet = "{}[],:\"-.0123456789aetrulnx\\ ";
    int completed = 0;
    for (Schemas.Case c : Schemas.ALL) {
      JsonGrammar g = JsonGrammar.fromSchema(c.schema());
      SchemaOracle oracle = new SchemaOracle(c.schema());
      for (String doc : c.valid()) {
        for (int k = 0; k < 60; k++) {
          String bad = mutate(doc, alphabet, rnd);
          for (int[] ids : tokenizations(bad, rnd)) {
            if (feed(g.matcher(vocab), ids) == Verdict.COMPLETE) {
              completed++;
              assertTrue(oracle.valid(bad), c.name() + ": grammar completed " + bad + " " + oracle.errors(bad));
            }
          }
        }
      }
    }
    assertTrue(completed > 0, "some mutations stay valid (a digit for a digit), so the check ran");
  }

  @Test
  void truncatedDocumentsAreAcceptedPrefixesButNotComplete() {
    for (Schemas.Case c : Schemas.ALL) {
      JsonGrammar g = JsonGrammar.fromSchema(c.schema());
      SchemaOracle oracle = new SchemaOracle(c.schema());
      for (String doc : c.valid()) {
        byte[] b = doc.getBytes(StandardCharsets.UTF_8);
        for (int n = 1; n < b.length; n++) {
          int[] ids = singleBytes(java.util.Arrays.copyOf(b, n));
          Verdict v = feed(g.matcher(vocab), ids);
          assertFalse(v == Verdict.REJECTED, c.name() + ": prefix of a valid document rejected at " + n);
          String prefix = new String(b, 0, n, StandardCharsets.UTF_8);
          assertEquals(v == Verdict.COMPLETE, oracle.valid(prefix), c.name() + ": '" + prefix + "'");
        }
      }
    }
  }

  @Test
  void datesAreRealCalendarDates() {
    SchemaOracle oracle = new SchemaOracle(Schemas.DATE.schema());
    JsonGrammar g = JsonGrammar.fromSchema(Schemas.DATE.schema());
    for (String date : List.of("2023-02-29", "2024-02-30", "2023-04-31", "2023-13-01", "2023-00-10", "2023-01-00",
        "2023-01-32")) {
      String doc = "[\"" + date + "\"]";
      assertFalse(oracle.valid(doc), "the oracle asserts formats: " + doc);
      assertEquals(Verdict.REJECTED, feed(g.matcher(vocab), singleBytes(doc.getBytes(StandardCharsets.UTF_8))), doc);
    }
  }

  @Test
  void unsupportedKeywordsAreRefusedByName() {
    for (String keyword : List.of("pattern", "oneOf", "allOf", "format", "uniqueItems", "minProperties",
        "prefixItems", "not")) {
      String schema = "{\"type\":\"string\",\"" + keyword + "\":" + (keyword.equals("format") ? "\"email\"" : "1") + "}";
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonGrammar.fromSchema(schema));
      assertTrue(e.getMessage().contains("'" + keyword + "'"), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonGrammar.fromSchema(
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}}}"));
    assertTrue(e.getMessage().contains("#/properties/a") && e.getMessage().contains("minimum"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> JsonGrammar.fromSchema("{\"type\":"));
  }

  @Test
  void eosIsAllowedExactlyWhenTheValueIsComplete() {
    GrammarMatcher m = JsonGrammar.fromSchema(Schemas.TYPE_LIST.schema()).matcher(vocab);
    int eos = Vocabularies.EOS.get(0);
    assertFalse(m.allows(eos));
    assertThrows(IllegalArgumentException.class, () -> m.accept(eos));
    for (int id : singleBytes("[1".getBytes(StandardCharsets.UTF_8))) {
      m.accept(id);
    }
    assertFalse(m.allows(eos));
    m.accept(singleBytes("]".getBytes(StandardCharsets.UTF_8))[0]);
    assertTrue(m.allows(eos));
    long[] mask = m.allowedTokens();
    assertEquals(Vocabularies.EOS, ids(mask), "after a complete value only eos ids");
    for (int special : Vocabularies.tokenizer().specialTokenIds()) {
      assertEquals(Vocabularies.EOS.contains(special), m.allows(special));
    }
  }

  private enum Verdict { REJECTED, PREFIX, COMPLETE }

  private static Verdict feed(GrammarMatcher m, int[] ids) {
    for (int id : ids) {
      boolean allowed = m.allows(id);
      try {
        m.accept(id);
      } catch (IllegalArgumentException e) {
        assertFalse(allowed, "mask allowed token " + id + " that accept refused");
        return Verdict.REJECTED;
      }
      assertTrue(allowed, "accept took token " + id + " that the mask refused");
    }
    return m.isComplete() ? Verdict.COMPLETE : Verdict.PREFIX;
  }

  /** The tokenizer's own encoding, one token per byte, and a random split into vocabulary tokens. */
  private static List<int[]> tokenizations(String doc, Random rnd) {
    byte[] b = doc.getBytes(StandardCharsets.UTF_8);
    return List.of(Vocabularies.tokenizer().encodeText(doc), singleBytes(b), randomSplit(b, rnd));
  }

  private static int[] singleBytes(byte[] b) {
    Map<ByteBuffer, Integer> ids = Vocabularies.idsByBytes();
    int[] out = new int[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = ids.get(ByteBuffer.wrap(new byte[] {b[i]}));
    }
    return out;
  }

  private static int[] randomSplit(byte[] b, Random rnd) {
    Map<ByteBuffer, Integer> ids = Vocabularies.idsByBytes();
    List<Integer> out = new ArrayList<>();
    int at = 0;
    while (at < b.length) {
      List<Integer> lengths = new ArrayList<>();
      for (int len = 1; at + len <= b.length && len <= 16; len++) {
        if (ids.containsKey(ByteBuffer.wrap(b, at, len).slice())) {
          lengths.add(len);
        }
      }
      int len = lengths.get(rnd.nextInt(lengths.size()));
      out.add(ids.get(ByteBuffer.wrap(b, at, len).slice()));
      at += len;
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  private static String mutate(String doc, String alphabet, Random rnd) {
    StringBuilder sb = new StringBuilder(doc);
    int at = rnd.nextInt(sb.length());
    while (Character.isSurrogate(sb.charAt(at))) {
      at = rnd.nextInt(sb.length()); // mutate whole characters only: the text stays well-formed
    }
    switch (rnd.nextInt(3)) {
      case 0 -> sb.deleteCharAt(at);
      case 1 -> sb.insert(at, alphabet.charAt(rnd.nextInt(alphabet.length())));
      default -> sb.setCharAt(at, alphabet.charAt(rnd.nextInt(alphabet.length())));
    }
    return sb.isEmpty() ? doc + "x" : sb.toString();
  }

  private static List<Integer> ids(long[] mask) {
    List<Integer> out = new ArrayList<>();
    for (int w = 0; w < mask.length; w++) {
      for (long bits = mask[w]; bits != 0; bits &= bits - 1) {
        out.add(w * 64 + Long.numberOfTrailingZeros(bits));
      }
    }
    return out;
  }

  private static String utf8(List<Integer> ids) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (int id : ids) {
      out.writeBytes(Vocabularies.tokenizer().tokenBytes(id));
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
