package io.autoglm.examples.cli.serve;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The requests of a run: synthetic prompts of sampled lengths, or the lines of a JSONL dataset, each
 * {@code {"prompt": "..."}} or {@code {"messages": [...]}} with an optional {@code max_tokens} (else the output
 * length distribution decides). A dataset shorter than the run is cycled.
 */
public final class PromptSource {
  /** One request's messages (a JSON array) and its output budget. */
  public record Prompt(JsonArray messages, int maxTokens) {}

  // Common English words, each one GLM-4 / Llama / GPT token with its leading space, so a prompt of N words is
  // close to N tokens on most tokenizers (the server's usage reports the exact count).
  private static final String[] WORDS = ("the of and to in is that for it as was with be by on not he this are or his"
      + " from at which but have an they you were her she there one all we can their has been if more when will"
      + " would who so no time out up about into them some could than other only new then these two may first any"
      + " like now my such make over our even most made after also did many off before must well back through"
      + " years where much your way down should because long each just those people how too little state good very"
      + " world still own see men work year go here give day under know get place while last might great old"
      + " house sea ship wind light story").split(" ");

  private final List<JsonObject> dataset;
  private final LengthDistribution promptWords;
  private final LengthDistribution outputTokens;
  private final SplittableRandom random;
  private int next;

  private PromptSource(List<JsonObject> dataset, LengthDistribution promptWords, LengthDistribution outputTokens,
      long seed) {
    this.dataset = dataset;
    this.promptWords = promptWords;
    this.outputTokens = outputTokens;
    this.random = new SplittableRandom(seed);
  }

  /** Synthetic prompts: {@code promptWords} words each, {@code outputTokens} to generate. */
  public static PromptSource synthetic(LengthDistribution promptWords, LengthDistribution outputTokens, long seed) {
    return new PromptSource(null, promptWords, outputTokens, seed);
  }

  /**
   * The lines of {@code file}.
   *
   * @throws IllegalArgumentException naming the file, the line and what it lacks
   */
  public static PromptSource dataset(Path file, LengthDistribution outputTokens, long seed) throws IOException {
    List<JsonObject> rows = new ArrayList<>();
    int lineNo = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      lineNo++;
      if (line.isBlank()) {
        continue;
      }
      rows.add(row(file, lineNo, line));
    }
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("--dataset " + file + ": no JSON lines");
    }
    return new PromptSource(rows, null, outputTokens, seed);
  }

  private static JsonObject row(Path file, int lineNo, String line) {
    JsonElement e;
    try {
      e = JsonParser.parseString(line);
    } catch (JsonParseException ex) {
      throw new IllegalArgumentException("--dataset " + file + " line " + lineNo + ": not JSON (" + ex.getMessage()
          + ")");
    }
    JsonObject o = e.isJsonObject() ? e.getAsJsonObject() : null;
    boolean prompt = o != null && o.has("prompt") && o.get("prompt").isJsonPrimitive();
    boolean messages = o != null && o.has("messages") && o.get("messages").isJsonArray();
    if (!prompt && !messages) {
      throw new IllegalArgumentException("--dataset " + file + " line " + lineNo
          + ": expected an object with a string 'prompt' or an array 'messages'");
    }
    if (o.has("max_tokens") && !(o.get("max_tokens").isJsonPrimitive()
        && o.get("max_tokens").getAsJsonPrimitive().isNumber() && o.get("max_tokens").getAsInt() >= 1)) {
      throw new IllegalArgumentException("--dataset " + file + " line " + lineNo + ": max_tokens "
          + o.get("max_tokens") + " is not a positive integer");
    }
    return o;
  }

  /** The next request; called from one thread. */
  public Prompt next() {
    if (dataset == null) {
      return new Prompt(user(words(promptWords.sample(random))), outputTokens.sample(random));
    }
    JsonObject row = dataset.get(next++ % dataset.size());
    JsonArray messages = row.has("messages") ? row.getAsJsonArray("messages").deepCopy()
        : user(row.get("prompt").getAsString());
    int max = row.has("max_tokens") ? row.get("max_tokens").getAsInt() : outputTokens.sample(random);
    return new Prompt(messages, max);
  }

  private String words(int n) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
    }
    return b.toString();
  }

  private static JsonArray user(String content) {
    JsonObject m = new JsonObject();
    m.addProperty("role", "user");
    m.addProperty("content", content);
    JsonArray a = new JsonArray();
    a.add(m);
    return a;
  }
}
