package io.autoglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Streaming text out of ids: the incremental detokenizer emits exactly the final text with no U+FFFD the final text
 * lacks, and a stop string spanning two tokens ends the stream without any of it being emitted.
 */
class StreamingDecodeTest {
  private static GlmTokenizer tokenizer;

  @BeforeAll
  static void load() {
    tokenizer = GlmTokenizer.load(Fixtures.tokenizers("glm-4-9b-chat-hf"));
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  @Test
  void chineseAndEmojiStreamTokenByTokenToTheFinalText() {
    String text = "你好，世界！今天天气很好 🤖👍🏽🇨🇳 家庭 👨\u200d👩\u200d👧"
        + " 完成。𝄞 ∑ café";
    int[] ids = tokenizer.encode(text);
    IncrementalDetokenizer detok = tokenizer.newDetokenizer(false);
    StringBuilder streamed = new StringBuilder();
    int heldBack = 0;
    for (int id : ids) {
      String piece = detok.add(id);
      assertFalse(piece.contains("\uFFFD"), "no replacement character mid-stream, got '" + piece + "'");
      heldBack += detok.hasPending() ? 1 : 0;
      streamed.append(piece);
    }
    streamed.append(detok.finish());
    assertEquals(text, streamed.toString());
    assertEquals(tokenizer.decode(ids), streamed.toString());
    assertTrue(heldBack > 0, "the text must split some character across tokens for this test to mean anything");
  }

  @Test
  void everyGoldenTextStreamsToItsDecode() {
    for (var e : Fixtures.json("glm-4-9b-chat-hf", "golden.json").getAsJsonArray("encode")) {
      String text = e.getAsJsonObject().get("text").getAsString();
      assertEquals(text, streamAll(tokenizer.encode(text)));
    }
  }

  @Test
  void invalidBytesBecomeReplacementCharactersOnlyWhereTheFullDecodeHasThem() {
    // (id → bytes): a lone continuation byte, a truncated 3-byte char followed by ASCII, then é split in two.
    byte[][] table = {{(byte) 0x80}, {(byte) 0xE4, (byte) 0xB8}, {'A'}, {(byte) 0xC3}, {(byte) 0xA9}, {(byte) 0xE4}};
    int[] ids = {0, 1, 2, 3, 4, 5};
    IncrementalDetokenizer detok = new IncrementalDetokenizer(id -> table[id], id -> false);
    List<String> pieces = new ArrayList<>();
    for (int id : ids) {
      pieces.add(detok.add(id));
    }
    pieces.add(detok.finish());
    assertEquals(List.of("\uFFFD", "", "\uFFFDA", "", "é", "", "\uFFFD"), pieces);
    StringBuilder all = new StringBuilder();
    for (int id : ids) {
      all.append(new String(table[id], StandardCharsets.ISO_8859_1));
    }
    assertEquals(new String(all.toString().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8),
        String.join("", pieces));
  }

  @Test
  void skippedSpecialTokensEmitNothing() {
    int[] ids = tokenizer.encode("hi<|endoftext|>");
    IncrementalDetokenizer detok = tokenizer.newDetokenizer(true);
    StringBuilder out = new StringBuilder();
    for (int id : ids) {
      out.append(detok.add(id));
    }
    assertEquals("hi", out.append(detok.finish()).toString());
  }

  @Test
  void stopStringSpanningTwoTokensStopsTheStreamAndIsNotEmitted() {
    int[] ids = tokenizer.encode("The answer is 42. Then more text follows.");
    String stop = "answer is";
    // The stop string must really span tokens: no single token holds it whole.
    List<String> tokens = new ArrayList<>();
    for (int id : ids) {
      tokens.add(tokenizer.decode(new int[] {id}));
    }
    assertTrue(tokens.stream().noneMatch(t -> t.contains(stop)), "tokens: " + tokens);

    IncrementalDetokenizer detok = tokenizer.newDetokenizer(true);
    StopStringMatcher stops = new StopStringMatcher(List.of(stop, "never"));
    StringBuilder emitted = new StringBuilder();
    int consumed = 0;
    Optional<String> stoppedBy = Optional.empty();
    for (int id : ids) {
      consumed++;
      StopStringMatcher.Step step = stops.feed(detok.add(id));
      emitted.append(step.text());
      assertFalse(emitted.toString().contains("answer"), "part of the stop string leaked: '" + emitted + "'");
      if (step.stopped()) {
        stoppedBy = step.stopString();
        break;
      }
    }
    assertEquals(Optional.of(stop), stoppedBy);
    assertEquals("The ", emitted.toString());
    assertTrue(consumed < ids.length, "stopped at token " + consumed + " of " + ids.length);
  }

  private static String streamAll(int[] ids) {
    IncrementalDetokenizer detok = tokenizer.newDetokenizer(false);
    StringBuilder out = new StringBuilder();
    for (int id : ids) {
      out.append(detok.add(id));
    }
    return out.append(detok.finish()).toString();
  }
}
