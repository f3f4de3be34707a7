package io.autoglm.spring;

import io.autoglm.GenerationResult;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Token logprobs in OpenAI's shapes. Chat: {@code {"content": [{"token", "logprob", "bytes", "top_logprobs":
 * [{"token", "logprob", "bytes"}]}], "refusal": null}}. Completions: {@code {"tokens", "token_logprobs",
 * "top_logprobs": [{token: logprob}], "text_offset"}}. A token's text is its bytes read as UTF-8 (a byte-level
 * token that ends inside a character shows U+FFFD; its {@code bytes} are exact).
 */
final class OpenAiLogprobs {
  private final IntFunction<byte[]> tokenBytes;

  /** @param tokenBytes the bytes a token id stands for (the tokenizer's) */
  OpenAiLogprobs(IntFunction<byte[]> tokenBytes) {
    this.tokenBytes = tokenBytes;
  }

  String text(int tokenId) {
    return new String(tokenBytes.apply(tokenId), StandardCharsets.UTF_8);
  }

  Map<String, Object> chat(List<GenerationResult.TokenLogprobs> tokens) {
    List<Object> content = new ArrayList<>(tokens.size());
    for (GenerationResult.TokenLogprobs t : tokens) {
      Map<String, Object> entry = entry(t.tokenId(), t.logprob());
      List<Object> top = new ArrayList<>(t.top().size());
      for (GenerationResult.TokenLogprobs.Candidate c : t.top()) {
        top.add(entry(c.tokenId(), c.logprob()));
      }
      entry.put("top_logprobs", top);
      content.add(entry);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("content", content);
    out.put("refusal", null);
    return out;
  }

  private Map<String, Object> entry(int tokenId, float logprob) {
    byte[] bytes = tokenBytes.apply(tokenId);
    List<Integer> unsigned = new ArrayList<>(bytes.length);
    for (byte b : bytes) {
      unsigned.add(b & 0xff);
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("token", new String(bytes, StandardCharsets.UTF_8));
    m.put("logprob", logprob);
    m.put("bytes", unsigned);
    return m;
  }

  /**
   * @param textOffset the offset in the choice's text of the first token's text (tokens before it, and the echo)
   */
  Map<String, Object> completion(List<GenerationResult.TokenLogprobs> tokens, int textOffset) {
    List<String> texts = new ArrayList<>();
    List<Float> logprobs = new ArrayList<>();
    List<Object> tops = new ArrayList<>();
    List<Integer> offsets = new ArrayList<>();
    int offset = textOffset;
    for (GenerationResult.TokenLogprobs t : tokens) {
      String text = text(t.tokenId());
      texts.add(text);
      logprobs.add(t.logprob());
      offsets.add(offset);
      offset += text.length();
      Map<String, Float> top = new LinkedHashMap<>();
      for (GenerationResult.TokenLogprobs.Candidate c : t.top()) {
        top.putIfAbsent(text(c.tokenId()), c.logprob()); // two ids of one text: the likelier one's
      }
      tops.add(top);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("tokens", texts);
    out.put("token_logprobs", logprobs);
    out.put("top_logprobs", tops);
    out.put("text_offset", offsets);
    return out;
  }

  /** The summed text length of the tokens, as {@link #completion} counts offsets. */
  int textLength(List<GenerationResult.TokenLogprobs> tokens) {
    return tokens.stream().mapToInt(t -> text(t.tokenId()).length()).sum();
  }

  /**
   * One streamed choice's logprobs not sent yet: tokens whose text is still held back (a partial character, a
   * possible stop string, an open tag) wait for the next chunk that carries text.
   */
  final class Pending {
    private final List<GenerationResult.TokenLogprobs> tokens = new ArrayList<>();
    private int textOffset;

    Pending(int textOffset) {
      this.textOffset = textOffset;
    }

    void add(GenerationResult.TokenLogprobs t) {
      tokens.add(t);
    }

    boolean isEmpty() {
      return tokens.isEmpty();
    }

    /** The chunk field for the tokens held so far, which are then sent. */
    Map<String, Object> take(boolean chat) {
      Map<String, Object> out = chat ? chat(tokens) : completion(tokens, textOffset);
      textOffset += textLength(tokens);
      tokens.clear();
      return out;
    }
  }
}
