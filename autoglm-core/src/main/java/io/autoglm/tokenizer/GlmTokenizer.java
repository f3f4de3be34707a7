package io.autoglm.tokenizer;

import io.autoglm.ChatPrompt;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.autoglm.ModelLoadException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * A GLM tokenizer loaded from a checkpoint folder ({@code tokenizer.json}, or glm-4-9b-chat's tiktoken
 * {@code tokenizer.model} converted at load time) and, when the folder has one, its chat template.
 *
 * <p>Encoding never adds anything (no {@code [gMASK]<sop>} prefix, no truncation, no padding). {@link #encode}
 * matches added tokens in the text as transformers does; {@link #encodeText} treats special-token text as plain text.
 * Thread-safe after construction; {@link #close} frees the native tokenizers.
 */
public final class GlmTokenizer implements AutoCloseable {
  /** DJL defaults to 512-token truncation and cleans up spaces on decode; GLM wants neither. */
  private static final Map<String, String> DJL_OPTIONS = Map.of(
      "addSpecialTokens", "false", "truncation", "false", "padding", "false",
      "cleanupTokenizationSpaces", "false");

  private final HuggingFaceTokenizer withSpecials; // matches every added token
  private final HuggingFaceTokenizer textOnly; // matches only non-special added tokens
  private final Map<String, Integer> specialIds; // content → id, special added tokens only
  private final Set<Integer> specialIdSet;
  private static final byte[] NO_BYTES = new byte[0];
  private final byte[][] tokenBytes;
  private final int maxTokenBytes; // the longest entry of tokenBytes // (vocabSize) → the bytes each id decodes to
  private final List<Integer> eosTokenIds;
  private final Optional<ChatTemplate> chatTemplate;

  private GlmTokenizer(TokenizerFiles files, Optional<ChatTemplate> chatTemplate) {
    this.specialIds = new HashMap<>();
    for (AddedToken t : files.addedTokens()) {
      if (t.special()) {
        specialIds.put(t.content(), t.id());
      }
    }
    this.specialIdSet = Set.copyOf(specialIds.values());
    this.tokenBytes = TokenTable.bytesById(files.tokenizerJson(), files.addedTokens());
    this.maxTokenBytes = java.util.Arrays.stream(tokenBytes).mapToInt(b -> b.length).max().orElse(1);
    this.eosTokenIds = files.eosTokenIds();
    this.chatTemplate = chatTemplate;
    // tokenizer.json with the non-special added tokens only: a new top level over the same (unmodified) members, not
    // a deep copy of the 150k-token vocabulary and merges
    JsonObject textJson = new JsonObject();
    files.tokenizerJson().entrySet().forEach(e -> textJson.add(e.getKey(), e.getValue()));
    JsonArray nonSpecial = new JsonArray();
    for (AddedToken t : files.addedTokens()) {
      if (!t.special()) {
        nonSpecial.add(t.toJson());
      }
    }
    textJson.add("added_tokens", nonSpecial);
    // the two native tokenizers take seconds each to build from a 150k-token vocabulary: build them side by side
    java.util.concurrent.CompletableFuture<HuggingFaceTokenizer> text =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> djl(textJson));
    try {
      this.withSpecials = djl(files.tokenizerJson());
    } catch (RuntimeException e) {
      text.thenAccept(HuggingFaceTokenizer::close);
      throw e;
    }
    try {
      this.textOnly = text.join();
    } catch (java.util.concurrent.CompletionException e) {
      withSpecials.close();
      throw e.getCause() instanceof RuntimeException re ? re : e;
    }
  }

  /**
   * Loads the tokenizer in {@code dir}: {@code tokenizer.json}, else a tiktoken {@code tokenizer.model} with the
   * special tokens of {@code tokenizer_config.json}; the chat template comes from {@code chat_template.jinja} or
   * {@code tokenizer_config.json} when present; eos ids from {@code generation_config.json}.
   *
   * @throws ModelLoadException when no tokenizer file is there or one is malformed
   */
  public static GlmTokenizer load(Path dir) {
    TokenizerFiles files = TokenizerFiles.read(dir);
    return new GlmTokenizer(files, ChatTemplate.find(dir));
  }

  private static HuggingFaceTokenizer djl(JsonObject json) {
    byte[] bytes = json.toString().getBytes(StandardCharsets.UTF_8);
    try {
      return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), DJL_OPTIONS);
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException("the HuggingFace tokenizers library rejected tokenizer.json: " + e.getMessage(), e);
    }
  }

  /** Token ids of {@code text}, added tokens (special ones included) matched as transformers matches them. */
  public int[] encode(String text) {
    return encodeWith(withSpecials, text);
  }

  /** Token ids of {@code text} with special-token text encoded as plain text, as message content must be. */
  public int[] encodeText(String text) {
    return encodeWith(textOnly, text);
  }

  private static int[] encodeWith(HuggingFaceTokenizer tokenizer, String text) {
    if (text == null) {
      throw new IllegalArgumentException("text must not be null");
    }
    TextChecks.requireWellFormed(text, "text");
    if (text.isEmpty()) {
      return new int[0];
    }
    long[] ids = tokenizer.encode(text, false, false).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /** The text of {@code ids}, special tokens included (transformers' {@code decode}). */
  public String decode(int[] ids) {
    return decode(ids, false);
  }

  /** The text of {@code ids}; with {@code skipSpecialTokens}, special tokens such as eos are left out. */
  public String decode(int[] ids, boolean skipSpecialTokens) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      longs[i] = checkId(ids[i]);
    }
    return withSpecials.decode(longs, skipSpecialTokens);
  }

  /** A fresh streaming decoder; with {@code skipSpecialTokens}, special tokens emit nothing. */
  public IncrementalDetokenizer newDetokenizer(boolean skipSpecialTokens) {
    // an id the tokenizer has no text for (the engine never samples one) decodes to nothing rather than failing
    return new IncrementalDetokenizer(id -> id >= 0 && id < tokenBytes.length ? tokenBytes[id] : NO_BYTES,
        skipSpecialTokens ? specialIdSet::contains : id -> false);
  }

  /** The id of a special token such as {@code <|assistant|>}, when the tokenizer has it. */
  public OptionalInt specialTokenId(String token) {
    Integer id = specialIds.get(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  /** The bytes id {@code id} decodes to (empty for an id nothing defines); a copy. */
  public byte[] tokenBytes(int id) {
    return tokenBytes[checkId(id)].clone();
  }

  /** The ids of the special added tokens ({@code [gMASK]}, {@code <|user|>}, ...). */
  public Set<Integer> specialTokenIds() {
    return specialIdSet;
  }

  /** The special tokens' texts, sorted. */
  public Set<String> specialTokens() {
    return Collections.unmodifiableSet(new TreeSet<>(specialIds.keySet()));
  }

  /** The most bytes one token's text holds: a text of B bytes encodes to at least B / maxTokenBytes() tokens. */
  public int maxTokenBytes() {
    return maxTokenBytes;
  }

  /** Number of ids the tokenizer can produce: 151,343 for GLM-4 (the model's embedding may have more rows). */
  public int vocabSize() {
    return tokenBytes.length;
  }

  /** The eos ids from generation_config.json (GLM-4: endoftext, user, observation), or eos_token; may be empty. */
  public List<Integer> eosTokenIds() {
    return eosTokenIds;
  }

  /** The model's chat template, when the folder has one. */
  public Optional<ChatTemplate> chatTemplate() {
    return chatTemplate;
  }

  /**
   * Renders {@code prompt} with the model's chat template and encodes it so that only the template's own markers
   * become special tokens: special-token text inside messages, tools or kwargs encodes as plain text.
   *
   * @throws IllegalStateException when the folder had no chat template
   */
  public EncodedPrompt encodeChat(ChatPrompt prompt) {
    ChatTemplate template = chatTemplate.orElseThrow(() -> new IllegalStateException(
        "this tokenizer has no chat template: expected chat_template.jinja or tokenizer_config.json 'chat_template'"));
    List<ChatTemplate.Segment> segments = template.renderSegments(prompt, specialIds.keySet());
    StringBuilder text = new StringBuilder();
    IdList ids = new IdList();
    for (ChatTemplate.Segment s : segments) {
      text.append(s.text());
      if (s.special()) {
        ids.add(specialIds.get(s.text()));
      } else {
        ids.addAll(encodeText(s.text()));
      }
    }
    return new EncodedPrompt(text.toString(), ids.toArray());
  }

  private int checkId(int id) {
    if (id < 0 || id >= tokenBytes.length) {
      throw new IllegalArgumentException(
          "token id " + id + " is out of range: expected 0 <= id < " + tokenBytes.length);
    }
    return id;
  }

  @Override
  public void close() {
    withSpecials.close();
    textOnly.close();
  }

  /** Growable int array. */
  private static final class IdList {
    private int[] ids = new int[64];
    private int size;

    void add(int id) {
      if (size == ids.length) {
        ids = java.util.Arrays.copyOf(ids, size * 2);
      }
      ids[size++] = id;
    }

    void addAll(int[] more) {
      for (int id : more) {
        add(id);
      }
    }

    int[] toArray() {
      return java.util.Arrays.copyOf(ids, size);
    }
  }
}
