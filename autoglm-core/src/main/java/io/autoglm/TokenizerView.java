package io.autoglm;

import io.autoglm.tokenizer.GlmTokenizer;
import java.util.Arrays;
import java.util.List;

/** {@link AutoGLM.Tokenizer} over the engine's own tokenizer; the model owns (and closes) that tokenizer. */
record TokenizerView(GlmTokenizer tokenizer) implements AutoGLM.Tokenizer {
  @Override
  public List<Integer> encode(String text) {
    return boxed(tokenizer.encode(text));
  }

  @Override
  public String decode(List<Integer> ids) {
    return tokenizer.decode(ids.stream().mapToInt(Integer::intValue).toArray(), true);
  }

  @Override
  public String renderChat(ChatPrompt chat) {
    return tokenizer.encodeChat(chat).text();
  }

  @Override
  public List<Integer> encodeChat(ChatPrompt chat) {
    return boxed(tokenizer.encodeChat(chat).ids());
  }

  @Override
  public int vocabSize() {
    return tokenizer.vocabSize();
  }

  @Override
  public byte[] tokenBytes(int id) {
    return tokenizer.tokenBytes(id);
  }

  private static List<Integer> boxed(int[] ids) {
    return Arrays.stream(ids).boxed().toList();
  }
}
