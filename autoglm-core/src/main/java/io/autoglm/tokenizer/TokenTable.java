package io.autoglm.tokenizer;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.autoglm.ModelLoadException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** The bytes each token id decodes to, read from a byte-level tokenizer.json; what streaming decoding needs. */
final class TokenTable {
  private TokenTable() {}

  /** (vocab size) → bytes; ids that nothing defines decode to no bytes. */
  static byte[][] bytesById(JsonObject tokenizerJson, List<AddedToken> added) {
    JsonElement decoder = tokenizerJson.get("decoder");
    String type = decoder != null && decoder.isJsonObject()
        ? decoder.getAsJsonObject().get("type").getAsString() : "none";
    if (!type.equals("ByteLevel")) {
      throw new ModelLoadException("tokenizer.json decoder is " + type
          + ": expected ByteLevel (the GLM-4 family's byte-level BPE)");
    }
    JsonObject vocab = tokenizerJson.getAsJsonObject("model").getAsJsonObject("vocab");
    int size = 0;
    for (Map.Entry<String, JsonElement> e : vocab.entrySet()) {
      size = Math.max(size, e.getValue().getAsInt() + 1);
    }
    for (AddedToken t : added) {
      size = Math.max(size, t.id() + 1);
    }
    byte[][] bytes = new byte[size][];
    for (Map.Entry<String, JsonElement> e : vocab.entrySet()) {
      bytes[e.getValue().getAsInt()] = ByteLevel.decodeToken(e.getKey());
    }
    for (AddedToken t : added) {
      bytes[t.id()] = t.special() ? t.content().getBytes(StandardCharsets.UTF_8) : ByteLevel.decodeToken(t.content());
    }
    for (int i = 0; i < size; i++) {
      if (bytes[i] == null) {
        bytes[i] = new byte[0];
      }
    }
    return bytes;
  }
}
