package io.autoglm.tokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import io.autoglm.ModelLoadException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns glm-4-9b-chat's tiktoken rank file ({@code <base64 bytes> <rank>} per line) into an equivalent Hugging Face
 * {@code tokenizer.json}: a byte-level BPE whose merges are recovered from the ranks the way transformers'
 * {@code TikTokenConverter} does it, so merge order equals rank order and the ids are the ranks.
 */
final class TiktokenConverter {
  /** ChatGLM4Tokenizer's {@code pat_str} (THUDM tokenization_chatglm.py), the cl100k pre-tokenizer pattern. */
  static final String GLM4_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
      + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

  private TiktokenConverter() {}

  /** True when the file's first line looks like {@code <base64> <int>}. */
  static boolean isRankFile(Path file) {
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
      String line = r.readLine();
      return line != null && line.matches("[A-Za-z0-9+/=]+ \\d+");
    } catch (IOException e) {
      return false;
    }
  }

  /** The tokenizer.json for {@code rankFile} plus {@code added} tokens (ids above the ranks). */
  static JsonObject convert(Path rankFile, List<AddedToken> added) {
    List<String> vocab = readRanks(rankFile); // index = rank = id; byte-level text
    JsonObject json = new JsonObject();
    json.addProperty("version", "1.0");
    json.add("truncation", JsonNull.INSTANCE);
    json.add("padding", JsonNull.INSTANCE);
    JsonArray addedJson = new JsonArray();
    for (AddedToken t : added) {
      if (t.id() < vocab.size()) {
        throw new ModelLoadException(String.format("%s: added token %s has id %d, expected an id >= %d (the ranks)",
            rankFile, t.content(), t.id(), vocab.size()));
      }
      addedJson.add(t.toJson());
    }
    json.add("added_tokens", addedJson);
    json.add("normalizer", JsonNull.INSTANCE);
    json.add("pre_tokenizer", preTokenizer());
    json.add("post_processor", JsonNull.INSTANCE);
    json.add("decoder", byteLevel(true, true));
    json.add("model", model(vocab));
    return json;
  }

  private static List<String> readRanks(Path file) {
    List<String> vocab = new ArrayList<>(160_000);
    Base64.Decoder base64 = Base64.getDecoder();
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isEmpty()) {
          continue;
        }
        int space = line.indexOf(' ');
        int rank = space < 0 ? -1 : Integer.parseInt(line.substring(space + 1).trim());
        if (rank != vocab.size()) {
          throw new ModelLoadException(String.format(
              "%s line %d: rank %d, expected ranks 0,1,2,... in order", file, vocab.size() + 1, rank));
        }
        vocab.add(ByteLevel.encode(base64.decode(line.substring(0, space))));
      }
    } catch (IOException | IllegalArgumentException e) {
      throw new ModelLoadException("cannot read tiktoken rank file " + file + ": " + e.getMessage(), e);
    }
    return vocab;
  }

  private static JsonObject preTokenizer() {
    JsonObject pattern = new JsonObject();
    pattern.addProperty("Regex", GLM4_PATTERN);
    JsonObject split = new JsonObject();
    split.addProperty("type", "Split");
    split.add("pattern", pattern);
    split.addProperty("behavior", "Isolated");
    split.addProperty("invert", false);
    JsonArray seq = new JsonArray();
    seq.add(split);
    seq.add(byteLevel(false, false));
    JsonObject o = new JsonObject();
    o.addProperty("type", "Sequence");
    o.add("pretokenizers", seq);
    return o;
  }

  private static JsonObject byteLevel(boolean addPrefixSpace, boolean useRegex) {
    JsonObject o = new JsonObject();
    o.addProperty("type", "ByteLevel");
    o.addProperty("add_prefix_space", addPrefixSpace);
    o.addProperty("trim_offsets", true);
    o.addProperty("use_regex", useRegex);
    return o;
  }

  private static JsonObject model(List<String> vocab) {
    JsonObject vocabJson = new JsonObject();
    Map<String, Integer> ids = new HashMap<>(vocab.size() * 2);
    for (int id = 0; id < vocab.size(); id++) {
      vocabJson.addProperty(vocab.get(id), id);
      ids.put(vocab.get(id), id);
    }
    JsonArray merges = new JsonArray();
    for (String[] pair : merges(vocab, ids)) {
      JsonArray p = new JsonArray();
      p.add(pair[0]);
      p.add(pair[1]);
      merges.add(p);
    }
    JsonObject o = new JsonObject();
    o.addProperty("type", "BPE");
    o.add("dropout", JsonNull.INSTANCE);
    o.add("unk_token", JsonNull.INSTANCE);
    o.add("continuing_subword_prefix", JsonNull.INSTANCE);
    o.add("end_of_word_suffix", JsonNull.INSTANCE);
    o.addProperty("fuse_unk", false);
    o.addProperty("byte_fallback", false);
    o.addProperty("ignore_merges", true);
    o.add("vocab", vocabJson);
    o.add("merges", merges);
    return o;
  }

  /**
   * Every split of every token into two tokens, in rank order of the whole token, and within one token by the
   * ranks of (left, right): transformers' {@code TikTokenConverter.extract}. Lowest-rank merging over these pairs is
   * exactly tiktoken's lowest-rank-concatenation rule.
   */
  static List<String[]> merges(List<String> vocab, Map<String, Integer> ids) {
    List<String[]> merges = new ArrayList<>(vocab.size() * 2);
    List<String[]> local = new ArrayList<>();
    for (String token : vocab) {
      local.clear();
      for (int i = 1; i < token.length(); i++) {
        String left = token.substring(0, i);
        String right = token.substring(i);
        if (ids.containsKey(left) && ids.containsKey(right)) {
          local.add(new String[] {left, right});
        }
      }
      local.sort(Comparator.<String[]>comparingInt(p -> ids.get(p[0])).thenComparingInt(p -> ids.get(p[1])));
      merges.addAll(local);
    }
    return merges;
  }
}
