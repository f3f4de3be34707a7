package io.autoglm.tokenizer;

import io.autoglm.ChatPrompt;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * glm-4-9b-chat-hf/golden.json against both forms of the GLM-4 tokenizer: the tokenizer.json and the original
 * tiktoken rank file converted at load time. {@code hf_ids} is transformers' encoding (special-token text matched as
 * special tokens), {@code ids} tiktoken's (special-token text as plain text).
 */
class GlmTokenizerGoldenTest {
  private static final JsonObject GOLDEN = Fixtures.json("glm-4-9b-chat-hf", "golden.json");
  private static GlmTokenizer hf;
  private static GlmTokenizer tiktoken;

  @BeforeAll
  static void load() {
    hf = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf"));
    tiktoken = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat"));
  }

  @AfterAll
  static void close() {
    hf.close();
    tiktoken.close();
  }

  static Stream<Arguments> encodeCases() {
    List<Arguments> cases = new ArrayList<>();
    for (JsonElement e : GOLDEN.getAsJsonArray("encode")) {
      JsonObject c = e.getAsJsonObject();
      cases.add(Arguments.of(c.get("text").getAsString(), ints(c.getAsJsonArray("hf_ids")),
          ints(c.getAsJsonArray("ids")), c.get("decoded").getAsString()));
    }
    return cases.stream();
  }

  @ParameterizedTest
  @MethodSource("encodeCases")
  void tokenizerJsonEncodesToHfIdsAndDecodesBack(String text, int[] hfIds, int[] tiktokenIds, String decoded) {
    assertArrayEquals(hfIds, hf.encode(text));
    assertEquals(decoded, hf.decode(hfIds));
    assertEquals(text, decoded);
    assertArrayEquals(tiktokenIds, hf.encodeText(text), "special-token text encoded as plain text");
  }

  @ParameterizedTest
  @MethodSource("encodeCases")
  void tiktokenFormGivesTheSameIds(String text, int[] hfIds, int[] tiktokenIds, String decoded) {
    assertArrayEquals(tiktokenIds, tiktoken.encodeText(text), "tiktoken's own encoding");
    assertArrayEquals(hfIds, tiktoken.encode(text), "same ids as tokenizer.json");
    assertEquals(decoded, tiktoken.decode(hfIds));
  }

  static Stream<Arguments> chatCases() {
    List<Arguments> cases = new ArrayList<>();
    for (JsonElement e : GOLDEN.getAsJsonArray("chat")) {
      JsonObject c = e.getAsJsonObject();
      cases.add(Arguments.of(c.toString(), c.get("text").getAsString(), ints(c.getAsJsonArray("ids"))));
    }
    return cases.stream();
  }

  @ParameterizedTest
  @MethodSource("chatCases")
  void chatRendersToTextAndIds(String caseJson, String text, int[] ids) {
    for (GlmTokenizer t : List.of(hf, tiktoken)) {
      EncodedPrompt p = t.encodeChat(ChatPrompt.fromJson(caseJson));
      assertEquals(text, p.text());
      assertArrayEquals(ids, p.ids());
      assertArrayEquals(ids, t.encode(text), "the template's markers are the text's only special tokens");
    }
  }

  @Test
  void specialTokensVocabAndEos() {
    for (GlmTokenizer t : List.of(hf, tiktoken)) {
      assertEquals(151_343, t.vocabSize());
      assertEquals(151_337, t.specialTokenId("<|assistant|>").orElseThrow());
      assertEquals(151_331, t.specialTokenId("[gMASK]").orElseThrow());
      assertEquals(14, t.specialTokens().size());
      assertEquals(List.of(151_329, 151_336, 151_338), t.eosTokenIds());
    }
  }

  @Test
  void longTextIsNotTruncatedAt512Tokens() {
    String text = "The quick brown fox jumps over the lazy dog. ".repeat(200);
    int[] ids = hf.encode(text);
    assertTrue(ids.length > 2000, "expected over 2000 ids, got " + ids.length);
    assertEquals(text, hf.decode(ids));
  }

  @Test
  void skipSpecialTokensOnDecode() {
    int[] ids = hf.encode("[gMASK]<sop>hello<|endoftext|>");
    assertEquals("hello", hf.decode(ids, true));
  }

  static int[] ints(JsonArray a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsInt();
    }
    return out;
  }
}
