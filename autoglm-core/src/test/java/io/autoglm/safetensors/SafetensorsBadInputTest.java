package io.autoglm.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.AutoGLM;
import io.autoglm.Fixtures;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every malformed checkpoint is a ModelLoadException that names the file or the tensor — never a crash. The header
 * rules in detail: {@link SafetensorsHeaderRulesTest}.
 */
class SafetensorsBadInputTest {
  @TempDir Path dir;

  private static byte[] file(String header, int dataBytes) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    return b.array();
  }

  private Path write(String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  private ModelLoadException fails(Path p) {
    return assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(p).close());
  }

  @Test
  void validFileOpens() throws IOException {
    Path p = write("ok.safetensors", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16));
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      assertEquals(16, f.tensor("w").data().capacity());
    }
  }

  @Test
  void truncatedShard() throws IOException {
    byte[] full = file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[0,64]}}", 64);
    byte[] cut = java.util.Arrays.copyOf(full, full.length - 10);
    ModelLoadException e = fails(write("cut.safetensors", cut));
    assertTrue(e.getMessage().contains("cut.safetensors") && e.getMessage().contains("tensor w"), e.getMessage());
    assertTrue(e.getMessage().contains("outside the data section"), e.getMessage());
    ModelLoadException tiny = fails(write("tiny.safetensors", new byte[] {1, 2, 3}));
    assertTrue(tiny.getMessage().contains("tiny.safetensors") && tiny.getMessage().contains("truncated"));
  }

  @Test
  void headerLengthBeyondFileOrLimit() throws IOException {
    ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).putLong(0);
    ModelLoadException beyond = fails(write("beyond.safetensors", b.array()));
    assertTrue(beyond.getMessage().contains("beyond.safetensors") && beyond.getMessage().contains("1000"),
        beyond.getMessage());
    ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200L << 20).putLong(0);
    ModelLoadException limit = fails(write("huge.safetensors", huge.array()));
    assertTrue(limit.getMessage().contains("huge.safetensors") && limit.getMessage().contains("sane range"),
        limit.getMessage());
  }

  @Test
  void offsetsOutsideDataSection() throws IOException {
    ModelLoadException e = fails(write("off.safetensors",
        file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8)));
    assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("[8, 16]"), e.getMessage());
  }

  @Test
  void overlappingTensors() throws IOException {
    ModelLoadException e = fails(write("overlap.safetensors", file(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16)));
    assertTrue(e.getMessage().contains("overlap") && e.getMessage().contains("a") && e.getMessage().contains("b"),
        e.getMessage());
  }

  @Test
  void dtypeOrShapeDisagreesWithByteCount() throws IOException {
    ModelLoadException e = fails(write("count.safetensors",
        file("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,3],\"data_offsets\":[0,16]}}", 16)));
    assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("needs 18 bytes")
        && e.getMessage().contains("hold 16"), e.getMessage());
  }

  @Test
  void unknownDtype() throws IOException {
    ModelLoadException e = fails(write("dtype.safetensors",
        file("{\"w\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2)));
    assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("F8_E5M2")
        && e.getMessage().contains("not supported"), e.getMessage());
  }

  /** Copies a fixture so a test may break one file of it. */
  private Path copyFixture(String name) throws IOException {
    Path target = dir.resolve(name);
    Files.createDirectories(target);
    try (Stream<Path> files = Files.list(Fixtures.model(name))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, target.resolve(f.getFileName()));
      }
    }
    return target;
  }

  @Test
  void indexNamesMissingShard() throws IOException {
    Path model = copyFixture("glm4-tiny");
    Files.delete(model.resolve("model-00007-of-00013.safetensors"));
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> Checkpoint.open(model));
    assertTrue(e.getMessage().contains("model-00007-of-00013.safetensors")
        && e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void tensorMissingFromCheckpoint() throws IOException {
    Path model = copyFixture("glm4-tiny-bf16");
    Path f = model.resolve("model.safetensors");
    // rename one tensor in the header, keeping the header length: the model then lacks it
    byte[] bytes = Files.readAllBytes(f);
    String s = new String(bytes, StandardCharsets.ISO_8859_1).replace("model.layers.1.mlp.down_proj.weight",
        "model.layers.1.mlp.down_proj.wXight");
    Files.write(f, s.getBytes(StandardCharsets.ISO_8859_1));
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> AutoGLM.builder().modelPath(model).kvBlocks(8).build().close());
    assertTrue(e.getMessage().contains("model.layers.1.mlp.down_proj.weight") && e.getMessage().contains("missing"),
        e.getMessage());
  }

  @Test
  void tensorOfWrongShapeForConfig() throws IOException {
    Path model = copyFixture("glm4-tiny-bf16");
    Path config = model.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("\"intermediate_size\": 160", "\"intermediate_size\": 128"));
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> AutoGLM.builder().modelPath(model).kvBlocks(8).build().close());
    assertTrue(e.getMessage().contains("gate_up_proj") && e.getMessage().contains("[320, 64]")
        && e.getMessage().contains("[256, 64]") && e.getMessage().contains("model.safetensors"), e.getMessage());
  }

  @Test
  void unsupportedArchitectureNamesTheSupportedList() throws IOException {
    Path model = copyFixture("glm4-tiny-bf16");
    Path config = model.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("Glm4ForCausalLM", "LlamaForCausalLM"));
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> AutoGLM.builder().modelPath(model).kvBlocks(8).build().close());
    assertTrue(e.getMessage().contains("LlamaForCausalLM") && e.getMessage().contains("Glm4ForCausalLM")
        && e.getMessage().contains("config.json"), e.getMessage());
  }
}
