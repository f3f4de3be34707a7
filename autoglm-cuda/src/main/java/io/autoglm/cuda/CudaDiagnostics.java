package io.autoglm.cuda;

import java.util.function.UnaryOperator;

/**
 * The diagnostics of one CUDA backend, which the library itself never turns on: settings replaced on a live backend
 * for A/B runs, a per-op GPU profile of eager steps, op kinds left out for timing, the self-tests' context, and the
 * device measurements the benchmarks print.
 *
 * <p>Package-private on purpose: the one caller is {@code io.autoglm.cuda.CudaDiagnosticsAccess} in the
 * autoglm-cuda-bench jar, a class in this package name (a split package, so the bench tools run on the class path).
 * A library user has no path to anything here. Default state: no profile, nothing skipped.
 */
final class CudaDiagnostics {
  private final CudaBackend backend;
  private CudaProfile profile; // per-op GPU times of eager steps, when profiling
  private long skipOps; // bit i: op code i launches nothing (StepOp#code)

  CudaDiagnostics(CudaBackend backend) {
    this.backend = backend;
  }

  /** The settings in use. */
  CudaSettings settings() {
    return backend.settings();
  }

  /**
   * Replaces the backend's settings with {@code change} of them and drops the captured decode graphs, which baked the
   * old ones in. The process-wide kernel settings (GEMV and attention variants, PDL) follow.
   */
  void reconfigure(UnaryOperator<CudaSettings> change) {
    backend.applySettings(change.apply(backend.settings()), true);
  }

  /**
   * Turns CUDA graphs and the small-batch GEMV kernel on or off for later steps; drops the captured graphs only when
   * the GEMV choice changes (a captured graph bakes in the GEMV-or-cuBLAS choice, its fingerprint does not see it).
   */
  void setFastPaths(boolean graphs, boolean gemv) {
    CudaSettings now = backend.settings();
    backend.applySettings(now.with("cuda.graphs", graphs).with("cuda.gemv", gemv), gemv != now.gemv());
  }

  /** Whether programmatic dependent launch is in use (asked for, and the device supports it). */
  boolean pdl() {
    return backend.pdlInUse();
  }

  /**
   * Starts (or with null stops) a per-op profile: while it is set, steps run eagerly (no graphs) and each op gets
   * GPU-timed between two events, with a spin kernel ahead of it so the host's launch time is not counted.
   */
  void profile(CudaProfile p) {
    this.profile = p;
  }

  CudaProfile profile() {
    return profile;
  }

  /**
   * Timing diagnostic, which makes results wrong: steps launch no kernel for the op codes in {@code mask} (bit i =
   * {@link StepOp#code} i), so that a benchmark measures what each op costs inside a captured, PDL-chained decode
   * step. 0 (the default) launches everything. Drops the captured graphs.
   */
  void skipOpsForTiming(long mask) {
    backend.dropGraphs();
    this.skipOps = mask;
  }

  long skipOps() {
    return skipOps;
  }

  /** The native context, for the self-tests of the bench jar's CudaSelfTests. */
  long ctx() {
    return backend.ctx();
  }

  /** Largest activation arena use of any step so far, in bytes. */
  long peakActivationBytes() {
    return backend.memory().peakActivationBytes();
  }

  /** Number of captured decode graphs held now. */
  int capturedGraphs() {
    return backend.capturedGraphs();
  }

  /** Device bytes in use by every process on this backend's device (total − free). */
  long deviceBytesInUse() {
    long[] m = CudaNative.memInfo(backend.ctx());
    return m[1] - m[0];
  }

  /** Device-to-device copy bandwidth in bytes/s (bytes read + bytes written), over {@code reps} copies. */
  double copyBandwidthBytesPerSecond(long bytes, int reps) {
    return CudaNative.copyBandwidth(backend.ctx(), bytes, reps);
  }

  /** CUDA graphs captured by every CUDA backend of this JVM so far. */
  static int graphsCapturedTotal() {
    return GraphCache.capturedTotal();
  }

  /** Device bytes in use on {@code device} by every process (total − free), without a backend. */
  static long deviceMemoryInUse(int device) {
    long[] m = CudaNative.deviceMemInfo(device);
    return m[1] - m[0];
  }

  /** Total memory of {@code device} in bytes. */
  static long deviceMemoryTotal(int device) {
    return CudaNative.deviceMemInfo(device)[1];
  }
}
