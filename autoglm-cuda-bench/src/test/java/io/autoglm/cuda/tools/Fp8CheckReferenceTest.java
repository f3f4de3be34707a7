package io.autoglm.cuda.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.cpu.CpuBackendProvider;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.WeightSource;
import io.autoglm.testkit.ReferenceSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Fp8Check reference} on the CPU (no GPU): the files beside fp8ref-NAME.bin, their round trip, and the
 * unquantized fp32 reference against transformers' logits of the fixture.
 */
class Fp8CheckReferenceTest {
  private static final Path FIXTURE = Path.of("../autoglm-core/src/test/resources/fixtures/glm4moe-variant-tiny");

  @Test
  void writesBothReferencesAndRoutingTracesAndTheUnquantizedOneMatchesTransformers(@TempDir Path tmp)
      throws IOException {
    Path out = tmp.resolve("fp8ref-glm4moe-variant-tiny.bin");
    assertTrue(Fp8Check.reference(FIXTURE, out));
    Path f32 = tmp.resolve("f32ref-glm4moe-variant-tiny.bin");
    assertEquals(f32, Fp8Check.f32File(out));
    assertEquals(tmp.resolve("fp8route-glm4moe-variant-tiny.txt"), Fp8Check.routeFile(out));
    assertEquals(tmp.resolve("f32route-glm4moe-variant-tiny.txt"), Fp8Check.f32RouteFile(out));
    assertTrue(Files.size(Fp8Check.routeFile(out)) > 0 && Files.size(Fp8Check.f32RouteFile(out)) > 0);
    List<float[][]> fp8 = Fp8Check.readReference(out);
    List<float[][]> full = Fp8Check.readReference(f32);
    List<ReferenceSet.Prompt> prompts = ReferenceSet.load(FIXTURE.resolve("reference.safetensors")).prompts();
    assertEquals(prompts.size(), full.size());
    for (int i = 0; i < prompts.size(); i++) {
      ReferenceSet.Prompt p = prompts.get(i);
      int len = p.inputIds().length;
      double rel = CudaBench.Verify.compare(full.get(i), p.logits(), 0, 0, len)[0];
      assertTrue(rel < 1e-4, "prompt " + i + ": CPU fp32 vs transformers rel " + rel);
      double q = CudaBench.Verify.compare(fp8.get(i), full.get(i), 0, 0, full.get(i).length)[0];
      assertTrue(q > 1e-4 && q < 0.25, "prompt " + i + ": FP8-dequantized vs unquantized rel " + q);
    }
  }

  @Test
  void theUnquantizedCpuRunIsExactAgainstItsF32ReferenceAndFarFromTheFp8One(@TempDir Path tmp) throws IOException {
    Path out = tmp.resolve("fp8ref-glm4moe-variant-tiny.bin");
    Fp8Check.reference(FIXTURE, out);
    ModelConfig c = ModelConfig.load(FIXTURE);
    try (ComputeBackend cpu = new CpuBackendProvider().create(BackendOptions.defaults())) {
      Fp8Check.Run r = Fp8Check.run(cpu, FIXTURE, WeightSource::whole, true, true);
      Fp8Check.Against f = Fp8Check.against(r, Fp8Check.readReference(Fp8Check.f32File(out)),
          RouteCheck.read(Fp8Check.f32RouteFile(out)), c);
      assertTrue(f.routingOk(), f.routing());
      assertEquals(0, f.preRel(), "the same CPU prefill as the reference's");
      assertTrue(f.decRel() < 1e-4, "CPU decode steps vs its prefill: rel " + f.decRel());
      Fp8Check.Against q = Fp8Check.against(r, Fp8Check.readReference(out), RouteCheck.read(Fp8Check.routeFile(out)),
          c);
      assertTrue(q.preAll() > 1e-3, "the unquantized run against the FP8-dequantized reference: rel " + q.preAll());
    }
  }

  @Test
  void roundTripsLogitsBitForBit(@TempDir Path tmp) throws IOException {
    List<float[][]> logits = List.of(new float[][] {{1f, -0f, Float.MIN_VALUE}, {3.5e-7f, -2f, 1e30f}},
        new float[][] {{Float.NaN, 7f, 8f}});
    Path f = tmp.resolve("fp8ref-x.bin");
    Fp8Check.writeReference(logits, f);
    List<float[][]> back = Fp8Check.readReference(f);
    assertEquals(2, back.size());
    for (int i = 0; i < logits.size(); i++) {
      assertEquals(logits.get(i).length, back.get(i).length);
      for (int r = 0; r < logits.get(i).length; r++) {
        assertArrayEquals(logits.get(i)[r], back.get(i)[r]);
      }
    }
  }

  @Test
  void rejectsAFileThatIsNotAReferenceNamingIt(@TempDir Path tmp) throws IOException {
    Path f = tmp.resolve("fp8ref-bad.bin");
    Files.writeString(f, "{\"not\": \"logits\"}");
    IOException e = assertThrows(IOException.class, () -> Fp8Check.readReference(f));
    assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
  }

  @Test
  void rejectsAReferenceNameWithoutTheFp8refForm() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Fp8Check.f32File(Path.of("/tmp/logits.bin")));
    assertTrue(e.getMessage().contains("/tmp/logits.bin") && e.getMessage().contains("fp8ref-NAME.bin"),
        e.getMessage());
  }
}
