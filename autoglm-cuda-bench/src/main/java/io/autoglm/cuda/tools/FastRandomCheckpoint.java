package io.autoglm.cuda.tools;

import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.SafetensorsHeader;
import io.autoglm.safetensors.Widening;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A random glm-4-9b-chat-shaped bf16 checkpoint in one {@code model.safetensors}, written fast for benchmarks: large
 * tensors cycle through a 64 MiB block of uniform values (std 0.02) at a per-tensor offset; norm weights are drawn
 * near 1 and biases near 0, as {@link io.autoglm.testkit.RandomCheckpoint} draws them (which takes minutes at 9B).
 */
final class FastRandomCheckpoint {
  static final String CONFIG = """
      {"architectures":["GlmForCausalLM"],"model_type":"glm","attention_bias":true,"head_dim":128,
       "hidden_act":"silu","hidden_size":4096,"intermediate_size":13696,"max_position_embeddings":131072,
       "num_attention_heads":32,"num_hidden_layers":40,"num_key_value_heads":2,"partial_rotary_factor":0.5,
       "rms_norm_eps":1.5625e-07,"rope_theta":10000.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
       "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"vocab_size":151552}""";

  /** GLM-4-32B-0414 (and GLM-Z1-32B): 48 query heads over 2 KV heads, 61 layers, about 65 GB in bf16. */
  static final String GLM4_32B = """
      {"architectures":["Glm4ForCausalLM"],"model_type":"glm4","attention_bias":false,"head_dim":128,
       "hidden_act":"silu","hidden_size":6144,"intermediate_size":23040,"max_position_embeddings":32768,
       "num_attention_heads":48,"num_hidden_layers":61,"num_key_value_heads":2,"partial_rotary_factor":0.5,
       "rms_norm_eps":1e-05,"rope_theta":10000.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
       "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"vocab_size":151552}""";

  private FastRandomCheckpoint() {}

  /**
   * The config.json text of a benchmark model: glm-4-9b-chat, glm-4-32b-0414 or glm-4.5-air (GLM-4.5-Air's published
   * shapes, 46 layers, without the MTP layer: 128 routed experts of 1,408, top-8, one shared expert, first layer
   * dense, 96 query heads over 8 KV heads).
   */
  static String config(String model) {
    return switch (model) {
      case "glm-4-9b-chat" -> CONFIG;
      case "glm-4-32b-0414" -> GLM4_32B;
      case "glm-4.5-air" -> String.format(EngineBench.AIR, 46);
      default -> throw new IllegalArgumentException("bench.model " + model
          + " is not one of glm-4-9b-chat, glm-4-32b-0414, glm-4.5-air");
    };
  }

  /**
   * The model directory of a bench run at {@code model}'s shapes under {@code work}: only its config.json when the
   * weights are generated in host memory, else a random checkpoint, written once.
   */
  static Path modelDir(Path work, String model, boolean inMemory) throws IOException {
    String config = config(model);
    Path dir = work.resolve(model + (inMemory ? "-config" : "-random"));
    if (inMemory) {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("config.json"), config);
    } else if (!Files.exists(dir.resolve(Checkpoint.SINGLE_FILE))) {
      long t0 = System.nanoTime();
      write(dir, config);
      System.out.printf("wrote random checkpoint %s in %.1f s%n", dir, (System.nanoTime() - t0) / 1e9);
    }
    return dir;
  }

  static void write(Path dir) throws IOException {
    write(dir, CONFIG);
  }

  /** The same for any config ({@code config.json} text), e.g. a glm-4.5-air shape with fewer layers. */
  static void write(Path dir, String configJson) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), configJson);
    ModelConfig c = ModelConfig.load(dir);
    Map<String, long[]> tensors = CheckpointLayout.tensors(c);
    List<SafetensorsHeader.Entry> entries = tensors.entrySet().stream()
        .map(t -> new SafetensorsHeader.Entry(t.getKey(), DType.BF16, t.getValue())).toList();
    SplittableRandom random = new SplittableRandom(42);
    int blockElems = 32 << 20;
    ByteBuffer block = ByteBuffer.allocateDirect(2 * blockElems).order(ByteOrder.LITTLE_ENDIAN);
    float scale = 0.02f * (float) Math.sqrt(3);
    for (int i = 0; i < blockElems; i++) {
      block.putShort(Widening.floatToBf16(scale * (float) (random.nextDouble() * 2 - 1)));
    }
    try (FileChannel ch = FileChannel.open(dir.resolve("model.safetensors"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      writeAll(ch, SafetensorsHeader.encode(entries));
      for (Map.Entry<String, long[]> e : tensors.entrySet()) {
        long n = 1;
        for (long d : e.getValue()) {
          n *= d;
        }
        boolean norm = e.getKey().endsWith("norm.weight");
        boolean bias = e.getKey().endsWith(".bias");
        if (norm || bias) {
          ByteBuffer small = ByteBuffer.allocate((int) (2 * n)).order(ByteOrder.LITTLE_ENDIAN);
          for (long i = 0; i < n; i++) {
            float u = (float) (random.nextDouble() * 2 - 1);
            small.putShort(Widening.floatToBf16(norm ? 1 + 0.1f * u : 0.01f * u));
          }
          small.flip();
          writeAll(ch, small);
          continue;
        }
        long left = n;
        int at = random.nextInt(blockElems);
        while (left > 0) {
          int count = (int) Math.min(left, blockElems - at);
          ByteBuffer part = block.duplicate();
          part.position(2 * at).limit(2 * (at + count));
          writeAll(ch, part);
          left -= count;
          at = 0;
        }
      }
    }
  }

  private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}
