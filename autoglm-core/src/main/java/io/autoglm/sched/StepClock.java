package io.autoglm.sched;

/**
 * Where the engine thread's time goes, per phase of the steps that ran a forward pass: {@link Scheduler#schedule}
 * (with the admission and preemption notices), {@link StepRunner#run} (the batch's arrays, the backend's forward
 * pass and sampling), {@link Scheduler#update}, and the delivery of its tokens and ends to the listeners. Written by
 * the engine thread only; read from any thread.
 */
public final class StepClock {
  /**
   * Nanoseconds summed over {@code steps} steps of {@code rows} scheduled chunks in all (a decode row is one token).
   *
   * @param forwardNanos inside {@link StepRunner#run}: host work to build and launch the step, and the device
   */
  public record Phases(long steps, long rows, long scheduleNanos, long forwardNanos, long updateNanos, long deliverNanos) {
    /** All of a step's time but the forward pass, in microseconds per step (0 before the first step). */
    public double hostMicrosPerStep() {
      return steps == 0 ? 0 : (scheduleNanos + updateNanos + deliverNanos) / 1e3 / steps;
    }

    /** The phases since {@code earlier}. */
    public Phases minus(Phases earlier) {
      return new Phases(steps - earlier.steps, rows - earlier.rows, scheduleNanos - earlier.scheduleNanos,
          forwardNanos - earlier.forwardNanos, updateNanos - earlier.updateNanos, deliverNanos - earlier.deliverNanos);
    }

    @Override
    public String toString() {
      double n = Math.max(1, steps);
      return String.format(java.util.Locale.ROOT, "%d steps, %.1f rows a step; µs per step: schedule %.1f, forward"
          + " %.1f, update %.1f, deliver %.1f", steps, rows / n, scheduleNanos / 1e3 / n, forwardNanos / 1e3 / n, updateNanos / 1e3 / n,
          deliverNanos / 1e3 / n);
    }
  }

  private volatile long steps;
  private volatile long rows;
  private volatile long schedule;
  private volatile long forward;
  private volatile long update;
  private volatile long deliver;

  void add(int stepRows, long scheduleNanos, long forwardNanos, long updateNanos, long deliverNanos) {
    schedule += scheduleNanos;
    forward += forwardNanos;
    update += updateNanos;
    deliver += deliverNanos;
    rows += stepRows;
    steps++;
  }

  public Phases phases() {
    return new Phases(steps, rows, schedule, forward, update, deliver);
  }
}
