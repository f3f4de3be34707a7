package io.autoglm.spring;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The one timer thread ({@code autoglm-disconnect-watch}) that probes pending requests' connections every
 * {@code interval}; see {@link DisconnectWatch}. A zero interval watches nothing. Closed with the application.
 */
final class DisconnectWatcher implements AutoCloseable {
  private final Duration interval;
  private final ScheduledExecutorService timer;

  DisconnectWatcher(Duration interval) {
    this.interval = interval;
    this.timer = interval.isZero() ? null : Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "autoglm-disconnect-watch");
      t.setDaemon(true);
      return t;
    });
  }

  void schedule(DisconnectWatch watch) {
    if (timer != null && !timer.isShutdown()) {
      long nanos = interval.toNanos();
      watch.scheduled(timer.scheduleWithFixedDelay(watch::probe, nanos, nanos, TimeUnit.NANOSECONDS));
    }
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
