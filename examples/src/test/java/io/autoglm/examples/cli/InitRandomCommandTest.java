package io.autoglm.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8Scheme;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code init-random --dtype fp8} writes the published FP8 form; an unknown dtype is refused naming it. */
class InitRandomCommandTest {
  @TempDir Path tmp;

  private static int run(String... args) {
    CommandLine cli = new CommandLine(new InitRandomCommand());
    cli.setOut(new PrintWriter(new StringWriter()));
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  private String[] args(String dtype, Path out) {
    return new String[] {"--like", "glm-4-9b-chat", "--set", "num_hidden_layers=1", "--set", "hidden_size=64",
        "--set", "intermediate_size=96", "--set", "num_attention_heads=4", "--set", "head_dim=16", "--set",
        "vocab_size=256", "--dtype", dtype, "--out", out.toString()};
  }

  @Test
  void fp8WritesF8LinearsWithScalesAndAQuantizationConfig() {
    Path out = tmp.resolve("fp8");
    assertEquals(0, run(args("fp8", out)));
    ModelConfig c = ModelConfig.load(out);
    assertEquals(Optional.of(Fp8Scheme.PUBLISHED), c.quantization());
    try (Checkpoint ckpt = Checkpoint.open(out, c.quantization())) {
      assertEquals(DType.F8_E4M3, ckpt.tensorAnyShape("model.layers.0.mlp.gate_up_proj.weight").dtype());
      assertEquals(DType.F32, ckpt.tensorAnyShape("model.layers.0.mlp.gate_up_proj.weight_scale_inv").dtype());
      assertEquals(DType.BF16, ckpt.tensorAnyShape("model.embed_tokens.weight").dtype());
      assertEquals(DType.BF16, ckpt.tensorAnyShape("lm_head.weight").dtype());
    }
  }

  @Test
  void anUnknownDtypeIsRefused() {
    assertNotEquals(0, run(args("int4", tmp.resolve("x"))));
    assertTrue(!tmp.resolve("x").toFile().exists(), "nothing written");
  }
}
