package io.autoglm.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.ModelLoadException;
import io.autoglm.model.GenerationDefaults;
import io.autoglm.model.ModelConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint never makes the loader read a file outside its folder: not by an absolute or {@code ..} path in the
 * index, not by a symbolic link (checked on the real path); and each tensor lives in exactly one shard.
 */
class CheckpointPathTest {
  @TempDir Path root;
  Path model;
  Path outside;

  @BeforeEach
  void folders() throws IOException {
    model = Files.createDirectories(root.resolve("model"));
    outside = Files.createDirectories(root.resolve("elsewhere"));
  }

  /** A valid shard holding F32 tensors of shape [2], back to back. */
  static void shard(Path file, String... names) throws IOException {
    List<SafetensorsHeader.Entry> entries = Arrays.stream(names)
        .map(n -> new SafetensorsHeader.Entry(n, DType.F32, new long[] {2})).toList();
    ByteBuffer head = SafetensorsHeader.encode(entries);
    byte[] bytes = new byte[head.remaining() + (int) SafetensorsHeader.dataBytes(entries)];
    head.get(bytes, 0, head.remaining());
    Files.write(file, bytes);
  }

  private void index(String... tensorAndShard) throws IOException {
    StringBuilder map = new StringBuilder();
    for (int i = 0; i < tensorAndShard.length; i += 2) {
      map.append(i == 0 ? "" : ",").append('"').append(tensorAndShard[i]).append("\":\"")
          .append(tensorAndShard[i + 1]).append('"');
    }
    Files.writeString(model.resolve(Checkpoint.INDEX_FILE), "{\"metadata\":{},\"weight_map\":{" + map + "}}");
  }

  private String openFails() {
    return assertThrows(ModelLoadException.class, () -> Checkpoint.open(model).close()).getMessage();
  }

  @Test
  void indexPathsOutsideTheFolderAreRefused() throws IOException {
    shard(model.resolve("a.safetensors"), "w");
    index("w", "a.safetensors", "x", "../../../../etc/passwd");
    String m = openFails();
    assertTrue(m.contains("places tensor x in \"../../../../etc/passwd\", which resolves to /etc/passwd, outside the "
        + "model folder " + model), m);
    index("x", "/etc/passwd");
    m = openFails();
    assertTrue(m.contains("places tensor x in \"/etc/passwd\", which is absolute, not a path relative to the model "
        + "folder " + model), m);
    shard(outside.resolve("b.safetensors"), "x");
    index("x", "../elsewhere/b.safetensors");
    m = openFails();
    assertTrue(m.contains("tensor x") && m.contains("outside the model folder " + model), m);
  }

  @Test
  void symbolicLinksOutOfTheFolderAreRefused() throws IOException {
    shard(outside.resolve("b.safetensors"), "x");
    Files.createSymbolicLink(model.resolve("b.safetensors"), outside.resolve("b.safetensors"));
    index("x", "b.safetensors");
    String m = openFails();
    assertTrue(m.contains("places tensor x in \"b.safetensors\", which is a symbolic link to "
        + outside.toRealPath().resolve("b.safetensors") + ", outside the model folder " + model.toRealPath()), m);

    Files.delete(model.resolve(Checkpoint.INDEX_FILE));
    Files.createSymbolicLink(model.resolve(Checkpoint.SINGLE_FILE), outside.resolve("b.safetensors"));
    m = openFails();
    assertTrue(m.contains("model.safetensors in " + model + ", which is a symbolic link to"), m);

    Files.writeString(outside.resolve("index.json"), "{\"weight_map\":{}}");
    Files.createSymbolicLink(model.resolve(Checkpoint.INDEX_FILE), outside.resolve("index.json"));
    m = openFails();
    assertTrue(m.contains(Checkpoint.INDEX_FILE + " in " + model + ", which is a symbolic link to"), m);
  }

  @Test
  void configFilesBehindLinksOutOfTheFolderAreRefused() throws IOException {
    Files.writeString(outside.resolve("config.json"), "{}");
    Files.createSymbolicLink(model.resolve("config.json"), outside.resolve("config.json"));
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelConfig.load(model));
    assertTrue(e.getMessage().contains("config.json in " + model + ", which is a symbolic link to "
        + outside.toRealPath().resolve("config.json")), e.getMessage());
    Files.createSymbolicLink(model.resolve("generation_config.json"), outside.resolve("config.json"));
    ModelConfig c = ModelConfig.fromJson(com.google.gson.JsonParser.parseString("""
        {"architectures":["GlmForCausalLM"],"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,
         "num_attention_heads":1,"num_key_value_heads":1,"vocab_size":4,"head_dim":8}""").getAsJsonObject());
    e = assertThrows(ModelLoadException.class, () -> GenerationDefaults.load(model, c));
    assertTrue(e.getMessage().contains("generation_config.json in " + model + ", which is a symbolic link"),
        e.getMessage());
  }

  @Test
  void linksInsideTheFolderAndIntoTheHubCacheBlobsAreFollowed() throws IOException {
    Files.createDirectories(model.resolve("sub"));
    shard(model.resolve("sub/real.safetensors"), "w");
    Files.createSymbolicLink(model.resolve(Checkpoint.SINGLE_FILE), Path.of("sub/real.safetensors"));
    try (Checkpoint c = Checkpoint.open(model)) {
      assertEquals(Set.of("w"), c.tensorNames());
    }
    // the Hugging Face hub cache: snapshots/<rev>/<file> -> ../../blobs/<hash>
    Path repo = root.resolve("models--org--glm");
    Path snapshot = Files.createDirectories(repo.resolve("snapshots/abc123"));
    Files.createDirectories(repo.resolve("blobs"));
    shard(repo.resolve("blobs/0f1e2d"), "w");
    Files.createSymbolicLink(snapshot.resolve(Checkpoint.SINGLE_FILE), Path.of("../../blobs/0f1e2d"));
    try (Checkpoint c = Checkpoint.open(snapshot)) {
      assertEquals(Set.of("w"), c.tensorNames());
    }
  }

  @Test
  void aTensorIsStoredOnce() throws IOException {
    shard(model.resolve("a.safetensors"), "w", "x");
    shard(model.resolve("b.safetensors"), "y", "w");
    index("w", "a.safetensors", "x", "a.safetensors", "y", "b.safetensors");
    String m = openFails();
    assertTrue(m.contains("tensor w is stored twice, in shards " + model.resolve("a.safetensors").toRealPath()
        + " and " + model.resolve("b.safetensors").toRealPath()), m);
  }

  @Test
  void shardTensorsTheIndexLeavesOutArePartOfTheCheckpoint() throws IOException {
    shard(model.resolve("a.safetensors"), "w", "x");
    index("w", "a.safetensors");
    try (Checkpoint c = Checkpoint.open(model)) { // transformers loads every tensor of the listed shards
      assertEquals(Set.of("w", "x"), c.tensorNames().stream().collect(Collectors.toSet()));
    }
  }

  @Test
  void indexMustBeStrict() throws IOException {
    shard(model.resolve("a.safetensors"), "w");
    Path index = model.resolve(Checkpoint.INDEX_FILE);
    Files.writeString(index, "{\"weight_map\":{\"w\":\"a.safetensors\",\"w\":\"a.safetensors\"}}");
    assertTrue(openFails().contains("lists tensor w twice in weight_map"));
    Files.writeString(index, "{\"weight_map\":{\"w\":5}}");
    assertEquals("shard index " + index + ": weight_map.w must be a shard file name (a string), got 5", openFails());
    Files.writeString(index, "{\"weight_map\":[]}");
    assertEquals("shard index " + index + ": weight_map must be an object, got an array", openFails());
    Files.writeString(index, "{\"metadata\":{}}");
    assertEquals("shard index " + index + " has no weight_map object", openFails());
    Files.writeString(index, "{\"weight_map\":{}");
    assertTrue(openFails().startsWith("shard index " + index + " is not valid JSON"));
  }
}
