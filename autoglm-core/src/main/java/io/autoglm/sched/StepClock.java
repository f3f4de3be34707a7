package io.autoglm.sched;

/**
 * Where the engine thread's time goes, per phase of the steps that ran a forward pass: {@link Scheduler#schedule}
 * (with the admission and preemption notices), {@link StepRunner#run} (the batch's arrays, the backend's forward
 * pass and sampling), the wait for the previous step's delivery to the listeners (0 when it ended during the
 * forward pass), {@link Scheduler#update}, and queueing the step's events for the listeners. Written by the engine thread only; a snapshot is consistent (one step's fields
 * are never half added).
 */
public final class StepClock {
  /**
   * Nanoseconds summed over {@code steps} steps of {@code rows} scheduled chunks in all (a decode row is one token).
   *
   * @param forwardNanos inside {@link StepRunner#run}: host work to build and launch the step, and the device
   * @param lastStepEndNanos {@link System#nanoTime()} when the last of these steps ended (0 before the first): the
   *     wall time between two snapshots' ends covers exactly the steps between them, idle gaps included
   */
  public record Phases(long steps, long rows, long scheduleNanos, long forwardNanos, long waitNanos,
      long updateNanos, long deliverNanos, long lastStepEndNanos) {
    /** The engine thread's own work per step (all but the forward pass and the wait), in µs (0 before a step). */
    public double hostMicrosPerStep() {
      return steps == 0 ? 0 : (scheduleNanos + updateNanos + deliverNanos) / 1e3 / steps;
    }

    /** All of the steps' time: schedule, forward, wait, update, deliver. */
    public long busyNanos() {
      return scheduleNanos + forwardNanos + waitNanos + updateNanos + deliverNanos;
    }

    /** The phases since {@code earlier}; its {@code lastStepEndNanos} is the wall time between the two ends. */
    public Phases minus(Phases earlier) {
      return new Phases(steps - earlier.steps, rows - earlier.rows, scheduleNanos - earlier.scheduleNanos,
          forwardNanos - earlier.forwardNanos, waitNanos - earlier.waitNanos, updateNanos - earlier.updateNanos,
          deliverNanos - earlier.deliverNanos, lastStepEndNanos - earlier.lastStepEndNanos);
    }

    @Override
    public String toString() {
      double n = Math.max(1, steps);
      return String.format(java.util.Locale.ROOT, "%d steps, %.1f rows a step; µs per step: schedule %.1f, forward"
          + " %.1f, wait %.1f, update %.1f, deliver %.1f", steps, rows / n, scheduleNanos / 1e3 / n,
          forwardNanos / 1e3 / n, waitNanos / 1e3 / n, updateNanos / 1e3 / n, deliverNanos / 1e3 / n);
    }
  }

  private Phases phases = new Phases(0, 0, 0, 0, 0, 0, 0, 0);

  /** Adds one step; its phases are the differences of the five {@link System#nanoTime()} readings, t0 first. */
  synchronized void add(int stepRows, long t0, long forwardStart, long waitStart, long updateStart, long deliverStart) {
    long end = System.nanoTime();
    Phases p = phases;
    phases = new Phases(p.steps + 1, p.rows + stepRows, p.scheduleNanos + forwardStart - t0,
        p.forwardNanos + waitStart - forwardStart, p.waitNanos + updateStart - waitStart,
        p.updateNanos + deliverStart - updateStart, p.deliverNanos + end - deliverStart, end);
  }

  public synchronized Phases phases() {
    return phases;
  }
}
