package io.autoglm.examples.ai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.autoglm.AutoGLM;
import io.autoglm.testkit.RandomCheckpoint;
import io.autoglm.springai.AutoGLMChatModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Both examples run as documented on a random checkpoint at the real GLM-4 vocabulary with the real glm-4-9b-chat-hf
 * tokenizer: the forced tool runs once and the answer is a complete record (its enum field set).
 */
class ExamplesTest {
  private static Path tokenizer() {
    Path p = Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"));
    return (Files.isDirectory(p) ? p : Path.of("../../../shared/fixtures")).resolve("tokenizers/glm-4-9b-chat-hf")
        .toAbsolutePath().normalize();
  }

  private static synchronized Path checkpoint() throws IOException {
    Path dir = Path.of("target/test-models/glm4-random-2l").toAbsolutePath();
    if (!Files.isRegularFile(dir.resolve("config.json"))) {
      Path tmp = Files.createDirectories(dir.getParent()).resolve("tmp-" + ProcessHandle.current().pid());
      RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
          "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16"), 1L << 30, 7).write(tmp, s -> {});
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    }
    return dir;
  }

  @Test
  void langChain4jExampleCallsTheToolAndFillsTheRecord() throws IOException {
    try (AutoGLM glm = AutoGLM.builder().modelPath(checkpoint()).tokenizerPath(tokenizer()).kvBlocks(64).build()) {
      LangChain4jExample.Weather weather = new LangChain4jExample.Weather();
      LangChain4jExample.Forecast f = LangChain4jExample.forecast(glm, weather);
      assertEquals(1, weather.calls);
      assertNotNull(f.city());
    }
  }

  @Test
  void springAiExampleCallsTheToolAndFillsTheRecord() throws IOException {
    try (ConfigurableApplicationContext context = SpringApplication.run(SpringAiExample.class,
        "--model=" + checkpoint(), "--tokenizer=" + tokenizer())) {
      SpringAiExample.Weather weather = new SpringAiExample.Weather();
      SpringAiExample.Forecast f = SpringAiExample.forecast(context.getBean(AutoGLMChatModel.class), weather);
      assertEquals(1, weather.calls);
      assertNotNull(f.city());
    }
  }
}
