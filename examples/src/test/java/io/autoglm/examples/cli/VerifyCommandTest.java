package io.autoglm.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code verify} passes on a fixture, also with 16 requests in flight, and fails when the tolerance is too tight. */
class VerifyCommandTest {
  private static String model(String name) {
    return Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"), "models", name).toString();
  }

  private record Run(int exitCode, String out) {
    String lastLine() {
      String[] lines = out.strip().split("\n");
      return lines[lines.length - 1];
    }
  }

  private static synchronized Run run(String... args) {
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      int code = new CommandLine(new AutoGLMCli()).execute(args);
      return new Run(code, buf.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(saved);
    }
  }

  @Test
  void concurrentVerifyPasses() {
    Run r = run("verify", "--model", model("glm4-tiny"), "--backend", "cpu", "--concurrent", "16", "--kv-blocks", "256");
    assertEquals(0, r.exitCode(), r.out());
    assertTrue(r.lastLine().startsWith("max_abs_logit_diff="), r.lastLine());
    double diff = Double.parseDouble(r.lastLine().substring("max_abs_logit_diff=".length()));
    assertTrue(diff <= 1e-4, r.lastLine());
    assertTrue(r.out().contains("requests=16"), r.out());
  }

  @Test
  void tooTightAToleranceFails() {
    Run r = run("verify", "--model", model("glm-tiny"), "--tolerance", "1e-9", "--kv-blocks", "64");
    assertEquals(1, r.exitCode(), r.out());
    assertTrue(r.out().contains("result=FAIL"), r.out());
  }
}
