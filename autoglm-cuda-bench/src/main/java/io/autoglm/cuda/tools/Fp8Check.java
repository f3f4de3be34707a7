package io.autoglm.cuda.tools;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.cpu.CpuBackendProvider;
import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaSelfTests;
import io.autoglm.cuda.tools.StepDriver.Chunk;
import io.autoglm.cuda.tools.StepDriver.Seq;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.Partition;
import io.autoglm.model.WeightSource;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.testkit.ReferenceSet;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * FP8 checks: the FP8 kernels' self-checks and model conformance on the fixtures.
 *
 * <pre>
 * Fp8Check reference FIXTURE OUT   (host, CPU backend) the logits of FIXTURE with its linears quantized on the host
 *                                  ({@link Fp8Source}) and dequantized to F32: every teacher-forced prompt, in one
 *                                  prefill step; written to OUT (tools/cuda-bundle.sh: DIR/fp8ref-NAME.bin), and
 *                                  for a MoE fixture that run's routing trace (DIR/fp8route-NAME.txt); beside them
 *                                  the same of the unquantized checkpoint in fp32 (f32ref-NAME.bin, f32route-NAME.txt)
 * Fp8Check verify FIXTURES REFDIR  (device) kernels, then per fixture with REFDIR's references: four CUDA runs
 *                                  (bf16; quantized at load; the host-quantized FP8 checkpoint on the default path
 *                                  and with bf16 activations throughout, cuda.fp8ActMinRows=0), compared
 * </pre>
 *
 * <p>Bounds, on ‖out − ref‖ / ‖ref‖ of the logits. The FP8 checkpoint on CUDA against the CPU's dequantized fp32
 * reference has the same weights, so it differs as the bf16 backend differs from an fp32 reference: bf16 activations
 * and the device's fused kernels, fp32 accumulation. That error is measured on each fixture in the same run: the bf16
 * run of the unquantized checkpoint against the CPU's fp32 logits of it on the same inputs (its "bf16 spread"), and
 * FP8 is held to {@code max(fixed, 1.5 × bf16 spread)} per phase ({@link ConformanceBound.Fp8}), the spread itself
 * held to the fixed tolerance. The fixed tolerance is CudaBench verify's (1e-2; 2e-2 for fp32 checkpoints, whose other
 * tensors the device rounds to bf16) for decode steps (one token each: the FP8 GEMVs, which dequantize exactly in
 * fp32), 1e-2 more for prefill (cuBLAS on weights dequantized to bf16, one more rounding of every linear weight). So
 * a tiny fixture, whose few dims average rounding errors less, gets the room its own bf16 run shows, and no more than
 * half again; FP8 much worse than bf16 on a fixture fails. MoE fixtures are compared under the CPU reference's routing
 * ({@link Fp8Routing}: a routing trace of the same CPU run, {@code fp8route-NAME.txt}; the bf16 spread likewise under
 * {@code f32route-NAME.txt}), the routing agreement reported on its own line. Quantization at load must give the very
 * weights of the host codec: identical logits. Against the bf16 run, FP8 is a different model: relative error and
 * greedy agreement are reported, with a sanity bound of 0.25 on the error. The bounds above hold the run with bf16
 * activations (the reference's arithmetic); the default path, whose prefill linears may run FP8 × FP8 (activations
 * quantized per row and 128-column block), is held to what FP8 weights cost the fixture
 * ({@link #withFp8Activations}).
 */
final class Fp8Check {
  private Fp8Check() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: Fp8Check reference FIXTURE OUT | verify FIXTURES REFDIR");
      System.exit(2);
    }
    boolean ok = switch (args[0]) {
      case "reference" -> reference(Path.of(args[1]), Path.of(args[2]));
      case "verify" -> verify(Path.of(args[1]), Path.of(args[2]));
      default -> throw new IllegalArgumentException("unknown subcommand " + args[0] + " (reference, verify)");
    };
    System.exit(ok ? 0 : 1);
  }

  static boolean verify(Path fixtures, Path refDir) {
    boolean ok;
    try (CudaBackend backend = CudaBench.backend(0.5)) {
      ok = kernels(backend);
    }
    for (String name : CudaBench.fixtures(fixtures)) {
      ok &= fixture(fixtures.resolve(name), name, refDir.resolve("fp8ref-" + name + ".bin"));
    }
    System.out.println(ok ? "FP8 VERIFY PASS" : "FP8 VERIFY FAIL");
    return ok;
  }

  // ---------------------------------------------------------------- kernels

  /** The FP8 kernels' self-checks (CudaSelfTests.fp8), one line each. */
  static boolean kernels(CudaBackend b) {
    boolean ok = true;
    for (int[] s : new int[][] {{1000, 4096}, {257, 200}, {4096, 4096}}) {
      double[] r = CudaSelfTests.fp8(b, 0, 0, s[1], s[0]);
      boolean pass = r[0] == 0 && r[1] == 0;
      ok &= pass;
      System.out.printf("fp8 quantize %dx%d (128x128 blocks, one all-zero): %.0f of %d bytes and %.0f of %.0f scales"
          + " differ from the host rule  %s%n", s[0], s[1], r[0], s[0] * s[1], r[1], r[2], pass ? "PASS" : "FAIL");
    }
    for (int[] s : new int[][] {{4096, 1024}, {4096, 2048}, {4096, 4096}, {4096, 8192}, {4112, 2048}}) {
      StringBuilder line = new StringBuilder();
      boolean pass = true;
      for (int rows : new int[] {1, 2, 3, 5, 8}) {
        double[] r = CudaSelfTests.fp8(b, 1, rows, s[0], s[1]);
        pass &= r.length == 6 && r[0] == 0 && r[4] == 0 && r[5] == 0;
        line.append(String.format(" [%d: %.0f out, max %.2f; bf16-dequant %.0f out, max %.2f; per-row scales %.0f"
            + " differ, rerun %.0f]", rows, r[0], r.length > 1 ? r[1] : -1, r.length > 2 ? r[2] : -1,
            r.length > 3 ? r[3] : -1, r.length > 4 ? r[4] : -1, r.length > 5 ? r[5] : -1));
      }
      ok &= pass;
      System.out.printf("fp8 gemv in %d, out %d vs double reference (bound 2^-8|ref| + 1e-5 sum|wx|), rows%s  %s%n",
          s[0], s[1], line, pass ? "PASS" : "FAIL");
    }
    for (int rows : new int[] {16, 64}) {
      double[] r = CudaSelfTests.fp8(b, 2, rows, 4096, 2048);
      boolean pass = r.length == 2 && r[0] == 0;
      ok &= pass;
      System.out.printf("fp8 cuBLAS path (dequantize + GEMM) %d rows, in 4096, out 2048: %.0f outside 2^-8(|ref| + "
          + "sum|wx|), max %.2f of it  %s%n", rows, r[0], r.length > 1 ? r[1] : -1, pass ? "PASS" : "FAIL");
    }
    for (int[] c : new int[][] {{9, 4096, 2048}, {64, 4096, 2048}, {100, 4096, 2048}, {256, 4096, 2048},
        {40, 1024, 1000}}) {
      double[] r = CudaSelfTests.fp8(b, 6, c[0], c[1], c[2]);
      boolean pass = r.length == 2 && r[0] == 0;
      ok &= pass;
      System.out.printf("fp8 tensor-core GEMM %d rows, in %d, out %d: %.0f outside 2^-8(|ref| + sum|wx|), max %.2f of"
          + " it  %s%n", c[0], c[1], c[2], r[0], r.length > 1 ? r[1] : -1, pass ? "PASS" : "FAIL");
    }
    ok &= Fp8LtCheck.run(b);
    ok &= Fp8GemvMmaCheck.run(b);
    ok &= bitwise(b, 3, "fp8 gemvSilu in 4096, inter", new int[] {13696, 4096, 2048});
    ok &= bitwise(b, 4, "fp8 qkv+rope in 4096, heads", new int[] {64, 32, 16});
    for (int[] s : new int[][] {{4096, 1408}, {1408, 4096}}) {
      StringBuilder line = new StringBuilder();
      boolean pass = true;
      for (int rows : new int[] {1, 8, 20}) {
        double[] r = CudaSelfTests.fp8(b, 5, rows, s[0], s[1]);
        pass &= r.length == 2 && r[0] == 0;
        line.append(String.format(" [%d: %.0f out, max %.2f]", rows, r[0], r.length > 1 ? r[1] : -1));
      }
      ok &= pass;
      System.out.printf("fp8 grouped expert gemv in %d, out %d, 8 experts vs double reference, pairs%s  %s%n", s[0],
          s[1], line, pass ? "PASS" : "FAIL");
    }
    System.out.println("fp8 kernel self-check " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  /** Kind 3 or 4 (CudaSelfTests.fp8) against the FP8 GEMV + the unfused op at rows 1..8, per output size: one line. */
  static boolean bitwise(CudaBackend b, int kind, String what, int[] outs) {
    boolean ok = true;
    for (int out : outs) {
      StringBuilder line = new StringBuilder();
      boolean pass = true;
      for (int rows = 1; rows <= 8; rows++) {
        double d = CudaSelfTests.fp8(b, kind, rows, 4096, out)[0];
        // gate_up + SiLU·mul may decline (the tensor-core kernel at an in-split of 8: no gate/up pair in a block);
        // the step then runs the GEMV + siluMul this compares against
        pass &= d == 0 || (kind == 3 && d == -1);
        line.append(' ').append(d == -1 ? "declined" : String.valueOf((long) d));
      }
      ok &= pass;
      System.out.printf("%s %d: outputs differing from the fp8 gemv + unfused op, rows 1..8:%s  %s%n", what, out, line,
          pass ? "PASS" : "FAIL");
    }
    return ok;
  }

  // ---------------------------------------------------------------- models

  /**
   * A run's logits: per prompt the teacher-forced rows in one prefill, the same one token per step; greedy tokens;
   * with {@code trace}, the MoE routing of the prefill and of the decode steps ({@link Fp8Routing}; else empty).
   */
  record Run(List<float[][]> prefill, List<float[][]> decode, List<int[]> greedy, int fp8Tensors,
      List<RouteCheck.Routed> prefillRoute, List<RouteCheck.Routed> decodeRoute) {}

  static Run run(ComputeBackend backend, Path dir, Function<Checkpoint, WeightSource> source, boolean decode,
      boolean trace) {
    ModelConfig c = ModelConfig.load(dir);
    ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      WeightSource src = source.apply(ckpt);
      GlmModel m = GlmModel.load(c, Partition.whole(c), src, backend, LoadProgress.none());
      List<float[][]> prefill = new ArrayList<>();
      List<float[][]> steps = new ArrayList<>();
      List<int[]> greedy = new ArrayList<>();
      List<RouteCheck.Routed> prefillRoute = new ArrayList<>();
      List<RouteCheck.Routed> decodeRoute = new ArrayList<>();
      try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), 256, 16, c.numKvHeads(), c.headDim()))) {
        StepDriver d = new StepDriver(backend, m, kv);
        for (ReferenceSet.Prompt p : ref.prompts()) {
          int[] tf = p.teacherForced();
          try (Fp8Routing.Recorder r = trace ? new Fp8Routing.Recorder() : null) {
            prefill.add(d.logits(List.of(new Chunk(d.sequences(1, tf.length, 0, false).get(0), tf))));
            if (r != null) {
              prefillRoute.addAll(r.routed(p.index(), tf.length, false));
            }
          }
          if (!decode) {
            continue;
          }
          Seq s = d.sequences(1, tf.length, 40, false).get(0);
          float[][] rows = new float[tf.length][];
          try (Fp8Routing.Recorder r = trace ? new Fp8Routing.Recorder() : null) {
            for (int i = 0; i < tf.length; i++) {
              rows[i] = d.logits(List.of(new Chunk(s, new int[] {tf[i]})))[0];
            }
            if (r != null) {
              decodeRoute.addAll(r.routed(p.index(), tf.length, true));
            }
          }
          steps.add(rows);
          Seq g = d.sequences(1, tf.length, 100, false).get(0);
          int[] tokens = new int[p.greedy().length];
          tokens[0] = d.step(List.of(new Chunk(g, p.inputIds())), StepDriver.greedy(1, 0))[0];
          for (int i = 1; i < tokens.length; i++) {
            tokens[i] = d.step(List.of(new Chunk(g, new int[] {tokens[i - 1]})), StepDriver.greedy(1, i))[0];
          }
          greedy.add(tokens);
        }
      }
      return new Run(prefill, steps, greedy, src instanceof Fp8Source f ? f.quantized() : -1, prefillRoute,
          decodeRoute);
    }
  }

  /**
   * The CPU backend's logits of the fixture's host-quantized, dequantized weights, to {@code out}; for a MoE fixture
   * also that run's routing trace, to {@link #routeFile} of {@code out}.
   */
  static boolean reference(Path dir, Path out) throws IOException {
    Run r;
    Run f32;
    ModelConfig c = ModelConfig.load(dir);
    boolean moe = c.moe().isPresent();
    try (ComputeBackend cpu = new CpuBackendProvider().create(BackendOptions.defaults())) {
      r = run(cpu, dir, ck -> new Fp8Source(WeightSource.whole(ck), c, true), false, moe);
      f32 = run(cpu, dir, WeightSource::whole, false, moe);
    }
    if (moe) {
      RouteCheck.write(r.prefillRoute(), routeFile(out));
      RouteCheck.write(f32.prefillRoute(), f32RouteFile(out));
    }
    writeReference(r.prefill(), out);
    writeReference(f32.prefill(), f32File(out));
    System.out.printf("fp8 reference of %s (CPU, %d tensors quantized on the host and dequantized; and unquantized, "
        + "fp32): %d prompts -> %s, %s%n", dir.getFileName(), r.fp8Tensors(), r.prefill().size(), out, f32File(out));
    return true;
  }

  static void writeReference(List<float[][]> logits, Path out) throws IOException {
    try (DataOutputStream o = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(out)))) {
      o.writeInt(logits.size());
      for (float[][] l : logits) {
        o.writeInt(l.length);
        o.writeInt(l[0].length);
        for (float[] row : l) {
          for (float v : row) {
            o.writeFloat(v);
          }
        }
      }
    }
  }

  /** The routing trace beside a reference file: fp8ref-NAME.bin → fp8route-NAME.txt. */
  static Path routeFile(Path reference) {
    return sibling(reference, "fp8route-", ".txt");
  }

  /** The unquantized checkpoint's CPU fp32 logits beside a reference file: fp8ref-NAME.bin → f32ref-NAME.bin. */
  static Path f32File(Path reference) {
    return sibling(reference, "f32ref-", ".bin");
  }

  /** Their routing trace: fp8ref-NAME.bin → f32route-NAME.txt. */
  static Path f32RouteFile(Path reference) {
    return sibling(reference, "f32route-", ".txt");
  }

  private static Path sibling(Path reference, String prefix, String ext) {
    String n = reference.getFileName().toString();
    if (!n.startsWith("fp8ref-") || !n.endsWith(".bin")) {
      throw new IllegalArgumentException("reference file " + reference + ": expected a name fp8ref-NAME.bin");
    }
    return reference.resolveSibling(prefix + n.substring(7, n.length() - 4) + ext);
  }

  static List<float[][]> readReference(Path file) throws IOException {
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
      int n = in.readInt();
      if (n <= 0) {
        throw new IOException(file + ": " + n + " prompts; expected a positive count (not a reference file?)");
      }
      List<float[][]> out = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int rows = in.readInt();
        int vocab = in.readInt();
        if (rows <= 0 || vocab <= 0 || (long) rows * vocab > 1L << 28) {
          throw new IOException(String.format("%s: prompt %d of %d has %d rows of %d logits; expected a positive "
              + "count of each below 2^28 in all (not a reference file?)", file, i, n, rows, vocab));
        }
        float[][] l = new float[rows][vocab];
        for (float[] row : l) {
          for (int v = 0; v < row.length; v++) {
            row[v] = in.readFloat();
          }
        }
        out.add(l);
      }
      return out;
    }
  }

  /** {max rel, max |Δ|} over the prompts of a against b. */
  static double[] compare(List<float[][]> a, List<float[][]> b) {
    double rel = 0;
    double abs = 0;
    for (int i = 0; i < b.size(); i++) {
      double[] r = CudaBench.Verify.compare(a.get(i), b.get(i), 0, 0, b.get(i).length);
      rel = Math.max(rel, r[0]);
      abs = Math.max(abs, r[1]);
    }
    return new double[] {rel, abs};
  }

  static boolean fixture(Path dir, String name, Path refFile) {
    ModelConfig config = ModelConfig.load(dir);
    boolean moe = config.moe().isPresent();
    List<float[][]> cpu;
    List<float[][]> f32;
    List<RouteCheck.Routed> cpuRoute = List.of();
    List<RouteCheck.Routed> f32Route = List.of();
    try {
      cpu = readReference(refFile);
      f32 = readReference(f32File(refFile));
      if (moe) {
        cpuRoute = readRoute(routeFile(refFile));
        f32Route = readRoute(f32RouteFile(refFile));
      }
    } catch (IOException e) {
      System.out.printf("%-15s no CPU reference beside %s (tools/cuda-bundle.sh writes them: %s)  FAIL%n", name,
          refFile, e);
      return false;
    }
    Run bf16;
    Run atLoad;
    Run host;
    try (CudaBackend b = CudaBench.backend(0.5)) {
      bf16 = run(b, dir, WeightSource::whole, true, moe);
    }
    try (CudaBackend b = CudaBench.backend(0.5, Map.of(BackendOptions.QUANTIZATION, "fp8"))) {
      atLoad = run(b, dir, WeightSource::whole, true, moe);
    }
    try (CudaBackend b = CudaBench.backend(0.5)) {
      host = run(b, dir, ck -> new Fp8Source(WeightSource.whole(ck), config, false), true, moe);
    }
    Run weightOnly;
    try (CudaBackend b = CudaBench.backend(0.5, Map.of("cuda.fp8ActMinRows", "0"))) {
      weightOnly = run(b, dir, ck -> new Fp8Source(WeightSource.whole(ck), config, false), true, moe);
    }
    Against bf16Spread = against(bf16, f32, f32Route, config);
    boolean a = againstCpu(name + " (bf16 activations)", config, weightOnly, against(weightOnly, cpu, cpuRoute,
        config), bf16Spread);
    a &= withFp8Activations(name, config, host, against(host, cpu, cpuRoute, config), bf16Spread,
        compare(weightOnly.prefill(), bf16.prefill())[0], compare(host.prefill(), weightOnly.prefill())[0]);
    double[] same = compare(atLoad.prefill(), host.prefill());
    double[] sameDec = compare(atLoad.decode(), host.decode());
    boolean tokens = greedyAgree(atLoad.greedy(), host.greedy()) == totalTokens(host.greedy());
    boolean b = same[1] == 0 && sameDec[1] == 0 && tokens;
    System.out.printf("%-15s quantized at load (device) vs host-quantized FP8 checkpoint (Java codec): prefill max|d| "
        + "%.2e, decode max|d| %.2e, greedy tokens equal %s (identical expected)  %s%n", name, same[1], sameDec[1],
        tokens, b ? "PASS" : "FAIL");
    double[] q = compare(atLoad.prefill(), bf16.prefill());
    double[] qd = compare(atLoad.decode(), bf16.decode());
    int agree = greedyAgree(atLoad.greedy(), bf16.greedy());
    boolean c = q[0] <= 0.25 && qd[0] <= 0.25;
    System.out.printf("%-15s quantized at load vs its bf16 run: prefill rel %.2e, decode rel %.2e; greedy tokens "
        + "agreeing before the first difference %d/%d (sanity bound rel 0.25)  %s%n", name, q[0], qd[0], agree,
        totalTokens(bf16.greedy()), c ? "PASS" : "FAIL");
    return a && b && c;
  }

  private static List<RouteCheck.Routed> readRoute(Path trace) throws IOException {
    if (!Files.exists(trace)) {
      throw new IOException("no CPU routing trace " + trace);
    }
    return RouteCheck.read(trace);
  }

  /**
   * A CUDA run against a CPU reference: rel and max|Δ| per phase on the positions no routing difference reaches (all
   * positions for a dense fixture), the all-positions rel, and for MoE the routing agreement ({@code routing} null
   * for a dense fixture).
   */
  record Against(double preRel, double preAbs, double decRel, double decAbs, double preAll, double decAll,
      String routing, boolean routingOk) {}

  static Against against(Run run, List<float[][]> ref, List<RouteCheck.Routed> refRoute, ModelConfig c) {
    double[] pre = compare(run.prefill(), ref);
    double[] dec = compare(run.decode(), ref);
    if (c.moe().isEmpty()) {
      return new Against(pre[0], pre[1], dec[0], dec[1], pre[0], dec[0], null, true);
    }
    Fp8Routing.Result p = Fp8Routing.compare(run.prefillRoute(), run.prefill(), refRoute, ref, c.moe().get());
    Fp8Routing.Result d = Fp8Routing.compare(run.decodeRoute(), run.decode(), refRoute, ref, c.moe().get());
    return new Against(p.rel(), p.maxAbs(), d.rel(), d.maxAbs(), pre[0], dec[0], "prefill " + p.routing()
        + "; decode steps " + d.routing(), p.routingOk() && d.routingOk());
  }

  /**
   * The FP8 checkpoint against the CPU's dequantized reference, per phase within {@link ConformanceBound.Fp8} of the
   * bf16 spread (bf16 on CUDA against the CPU's fp32 logits of the unquantized checkpoint; a bf16 run whose routing
   * differences are not all explained gives no spread). A MoE fixture: both routing agreements on their own lines
   * (every difference at a near-tie or downstream of one), the logits on the positions no routing difference
   * reaches, all positions reported too.
   */
  private static boolean againstCpu(String name, ModelConfig c, Run host, Against fp8, Against bf16) {
    boolean moe = fp8.routing() != null;
    if (moe) {
      System.out.printf("%-15s FP8 MoE on CUDA, %s  %s%n", name, fp8.routing(), fp8.routingOk() ? "PASS" : "FAIL");
      System.out.printf("%-15s bf16 MoE on CUDA vs CPU fp32 (for the bound), %s  %s%n", name, bf16.routing(),
          bf16.routingOk() ? "ok" : "not explained: fixed tol only");
    }
    double tol = ConformanceBound.bf16(c);
    ConformanceBound.Fp8 pre = ConformanceBound.Fp8.of(tol + 1e-2, bf16.routingOk() ? bf16.preRel() : Double.NaN);
    ConformanceBound.Fp8 dec = ConformanceBound.Fp8.of(tol, bf16.routingOk() ? bf16.decRel() : Double.NaN);
    boolean a = fp8.routingOk() && pre.holds(fp8.preRel()) && dec.holds(fp8.decRel());
    System.out.printf("%-15s FP8 checkpoint (%d tensors FP8) on CUDA vs CPU dequantized reference%s: prefill rel %.2e "
        + "max|d| %.2e (%s), decode steps rel %.2e max|d| %.2e (%s)%s  %s%n", name, host.fp8Tensors(),
        moe ? ", under its routing (positions no routing difference reaches)" : "", fp8.preRel(), fp8.preAbs(),
        pre.describe(), fp8.decRel(), fp8.decAbs(), dec.describe(), moe ? String.format("; all positions: prefill rel "
        + "%.2e, decode rel %.2e", fp8.preAll(), fp8.decAll()) : "", a ? "PASS" : "FAIL");
    return a;
  }

  /**
   * The FP8 checkpoint on the default path, whose prefill linears of 128×128-block weights with a 128-multiple input
   * run FP8 × FP8 (cuda.fp8ActMinRows, activations quantized per row and 128-column block), against the CPU's
   * dequantized reference (bf16 activations): the activation quantization is an approximation of its own, held to
   * what FP8 weights already cost this fixture, max(the bf16-activation bound, 1.5 × the weight-only FP8 prefill's
   * rel against the bf16 run); decode steps (GEMVs, bf16 activations) keep their bound.
   */
  private static boolean withFp8Activations(String name, ModelConfig c, Run host, Against fp8, Against bf16,
      double weightsRel, double actRel) {
    double tol = ConformanceBound.bf16(c);
    ConformanceBound.Fp8 pre = ConformanceBound.Fp8.of(tol + 1e-2, bf16.routingOk() ? bf16.preRel() : Double.NaN);
    ConformanceBound.Fp8 dec = ConformanceBound.Fp8.of(tol, bf16.routingOk() ? bf16.decRel() : Double.NaN);
    double preBound = Math.max(pre.bound(), 1.5 * weightsRel);
    boolean ok = fp8.routingOk() && fp8.preRel() <= preBound && dec.holds(fp8.decRel());
    System.out.printf("%-15s FP8 checkpoint, default path (FP8 x FP8 prefill linears where the shapes allow) vs CPU "
        + "dequantized reference: prefill rel %.2e (bound %.2e = max(%.2e, 1.5 × FP8 weights' own %.2e); vs the "
        + "bf16-activation run %.2e), decode steps rel %.2e (%s)  %s%n", name, fp8.preRel(), preBound, pre.bound(),
        weightsRel, actRel, fp8.decRel(), dec.describe(), ok ? "PASS" : "FAIL");
    return ok;
  }

  /** Tokens equal before each prompt's first difference, summed. */
  static int greedyAgree(List<int[]> a, List<int[]> b) {
    int n = 0;
    for (int i = 0; i < b.size(); i++) {
      int j = 0;
      while (j < b.get(i).length && a.get(i)[j] == b.get(i)[j]) {
        j++;
      }
      n += j;
    }
    return n;
  }

  private static int totalTokens(List<int[]> t) {
    return t.stream().mapToInt(x -> x.length).sum();
  }
}
