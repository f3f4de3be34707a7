package io.autoglm.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * How one forward step issues its ops: eagerly, into a CUDA graph being captured, or not at all while a captured
 * graph is replayed. Every op is {@link #track tracked} before it launches: the tracking folds (op, addresses) into
 * the step's fingerprint, which a replay must match; it also records the per-op profile events and applies the
 * timing diagnostic's skip mask when those are on ({@link CudaDiagnostics}). Ops launch only while {@link #live}.
 */
final class StepRecorder {
  private static final int PROFILE_SPIN_MICROS = 50;
  private static final int PROFILE_EVENTS = 8192;

  private enum Mode { EAGER, CAPTURE, REPLAY }

  private final long ctx;
  private final GraphCache graphs;
  private final GraphCache.Key key; // null: not a graph step
  private final int tokens; // real tokens, for the replay error
  private final long skipOps; // timing diagnostic: op codes that launch nothing
  private final CudaProfile profile; // null unless profiling
  private final List<String> profiled = new ArrayList<>(); // labels of the ops with events recorded
  private Mode mode = Mode.EAGER;
  private long fingerprint = 17;
  private int ops;
  private boolean skipping; // the current op is one the timing diagnostic leaves out
  private String label; // the next op's profile label, when more specific than its kind
  private boolean ended; // the last profiled op's end event is recorded already (endOp)

  StepRecorder(long ctx, GraphCache graphs, GraphCache.Key key, int tokens, CudaDiagnostics diagnostics) {
    this.ctx = ctx;
    this.graphs = graphs;
    this.key = key;
    this.tokens = tokens;
    this.skipOps = diagnostics.skipOps();
    this.profile = diagnostics.profile();
    if (profile != null) {
      CudaNative.profileEvents(ctx, PROFILE_EVENTS);
    }
  }

  /**
   * Picks the mode of a graph step (after the step's block tables are queued, before its first op): the first step
   * of a key runs eagerly (the warm-up), the second is captured, later ones replay.
   */
  void begin() {
    if (key == null) {
      return;
    }
    if (graphs.get(key) != null) {
      mode = Mode.REPLAY;
    } else if (!graphs.firstSight(key)) {
      mode = Mode.CAPTURE;
      CudaNative.beginCapture(ctx);
    }
  }

  /** Whether ops launch work: not while replaying a captured graph, nor for an op the timing diagnostic skips. */
  boolean live() {
    return mode != Mode.REPLAY && !skipping;
  }

  /** Whether the current op is one the timing diagnostic leaves out (and not a replay, which launches nothing). */
  boolean skipped() {
    return skipping && mode != Mode.REPLAY;
  }

  /** Whether this step is being captured into a CUDA graph or replays one (the host cannot wait for its ops). */
  boolean inGraph() {
    return mode != Mode.EAGER;
  }

  /** Whether a per-op profile is being recorded (then {@link #label} is worth formatting). */
  boolean profiling() {
    return profile != null;
  }

  /** The profile label of the next tracked op. */
  void label(String next) {
    this.label = next;
  }

  /** Records op {@code op} on addresses {@code a} and {@code b} (its fingerprint terms); call before launching it. */
  void track(StepOp op, long a, long b) {
    skipping = (skipOps & (1L << op.code)) != 0;
    fingerprint = (fingerprint * 1_000_003L + op.code) * 31 + a * 7 + b;
    ops++;
    if (profile != null && live()) { // end the previous op's timing, start this one's behind a spin kernel
      if (!profiled.isEmpty() && !ended) {
        CudaNative.profileMark(ctx, 2 * profiled.size() - 1, 0);
      }
      ended = false;
      if (2 * profiled.size() + 2 > PROFILE_EVENTS) {
        throw new IllegalStateException("profile: more than " + PROFILE_EVENTS / 2 + " ops in one step");
      }
      profiled.add(label != null ? label : op.label);
      CudaNative.profileMark(ctx, 2 * profiled.size() - 2, PROFILE_SPIN_MICROS);
    }
    label = null;
  }

  /**
   * Ends the current op's profile time now, right behind its launches (a no-op unless profiling): for an op whose
   * launch is followed by host work, which would otherwise count as its GPU time when the GPU catches up.
   */
  void endOp() {
    if (profile != null && live() && !profiled.isEmpty() && !ended) {
      CudaNative.profileMark(ctx, 2 * profiled.size() - 1, 0);
      ended = true;
    }
  }

  /** Ends the profiled ops so far (before the host waits): their GPU times go into the profile. */
  void flushProfile() {
    if (profile == null || profiled.isEmpty()) {
      return;
    }
    if (!ended) {
      CudaNative.profileMark(ctx, 2 * profiled.size() - 1, 0);
    }
    ended = false;
    float[] ms = CudaNative.profileElapsed(ctx, 2 * profiled.size());
    for (int i = 0; i < ms.length; i++) {
      profile.add(profiled.get(i), ms[i]);
    }
    profiled.clear();
  }

  /** Ends the graph part of the step: instantiates and launches a capture, or checks and launches a replay. */
  void runGraph() {
    if (mode == Mode.CAPTURE) {
      long exec = CudaNative.endCapture(ctx, false);
      graphs.put(key, new GraphCache.Graph(exec, fingerprint, ops));
      CudaNative.launchGraph(ctx, exec);
    } else if (mode == Mode.REPLAY) {
      GraphCache.Graph g = graphs.get(key);
      if (g.fingerprint() != fingerprint || g.ops() != ops) {
        throw new IllegalStateException(String.format("decode step of %d tokens issued %d ops that differ from "
            + "the %d ops captured for its bucket: the decoder must repeat its op sequence", tokens, ops, g.ops()));
      }
      CudaNative.launchGraph(ctx, g.exec());
    }
    mode = Mode.EAGER;
  }

  /** Discards an unfinished capture, ends the profile and waits for the stream. */
  void close() {
    if (mode == Mode.CAPTURE) {
      CudaNative.endCapture(ctx, true);
    }
    flushProfile();
    CudaNative.synchronize(ctx);
    if (profile != null) {
      profile.stepDone();
    }
  }
}
