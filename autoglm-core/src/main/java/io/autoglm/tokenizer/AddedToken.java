package io.autoglm.tokenizer;

import com.google.gson.JsonObject;

/**
 * One entry of {@code added_tokens} (tokenizer.json) or {@code added_tokens_decoder} (tokenizer_config.json): a
 * string matched whole before BPE runs. Special ones are the model's markers ({@code <|user|>}, {@code [gMASK]}).
 */
record AddedToken(int id, String content, boolean special) {

  AddedToken {
    if (id < 0) {
      throw new IllegalArgumentException("added token id (" + id + ") must be >= 0");
    }
    if (content == null || content.isEmpty()) {
      throw new IllegalArgumentException("added token " + id + ": content must be a non-empty string");
    }
  }

  /** The tokenizer.json form of this token. */
  JsonObject toJson() {
    JsonObject o = new JsonObject();
    o.addProperty("id", id);
    o.addProperty("content", content);
    o.addProperty("single_word", false);
    o.addProperty("lstrip", false);
    o.addProperty("rstrip", false);
    o.addProperty("normalized", false);
    o.addProperty("special", special);
    return o;
  }
}
