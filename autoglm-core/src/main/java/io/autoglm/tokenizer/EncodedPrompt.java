package io.autoglm.tokenizer;

import java.util.Objects;

/**
 * A rendered chat prompt and its token ids.
 *
 * @param text the template's output, exactly as transformers' {@code apply_chat_template(tokenize=False)} gives it
 * @param ids  the ids of {@code text}, with only the template's own markers as special tokens (array owned by the
 *             caller; record equality compares it by identity)
 */
public record EncodedPrompt(String text, int[] ids) {
  public EncodedPrompt {
    Objects.requireNonNull(text, "text");
    Objects.requireNonNull(ids, "ids");
  }
}
