package io.autoglm.grammar;

import io.autoglm.Fixtures;
import io.autoglm.tokenizer.GlmTokenizer;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The real GLM-4 vocabulary (151,343 ids), loaded once for the grammar tests. */
final class Vocabularies {
  static final List<Integer> EOS = List.of(151329, 151336, 151338);
  private static GlmTokenizer tokenizer;
  private static TokenVocabulary glm4;
  private static Map<ByteBuffer, Integer> idsByBytes;

  private Vocabularies() {}

  static synchronized GlmTokenizer tokenizer() {
    if (tokenizer == null) {
      tokenizer = GlmTokenizer.load(Fixtures.root().resolve("tokenizers/glm-4-9b-chat-hf"));
    }
    return tokenizer;
  }

  static synchronized TokenVocabulary glm4() {
    if (glm4 == null) {
      glm4 = TokenVocabulary.of(tokenizer(), EOS);
    }
    return glm4;
  }

  /** The non-special id of each byte string of the vocabulary (the lowest when several share it). */
  static synchronized Map<ByteBuffer, Integer> idsByBytes() {
    if (idsByBytes == null) {
      idsByBytes = new HashMap<>();
      GlmTokenizer t = tokenizer();
      for (int id = t.vocabSize() - 1; id >= 0; id--) {
        byte[] b = t.tokenBytes(id);
        if (b.length > 0 && !t.specialTokenIds().contains(id)) {
          idsByBytes.put(ByteBuffer.wrap(b), id);
        }
      }
    }
    return idsByBytes;
  }
}
