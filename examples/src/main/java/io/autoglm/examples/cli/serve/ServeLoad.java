package io.autoglm.examples.cli.serve;

import java.io.PrintStream;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends chat requests to a {@link Target}: by default streamed chat completions to an OpenAI-compatible server
 * ({@link HttpTarget}), or an engine in this process ({@link EngineTarget}). {@code requests} of them, started at
 * Poisson arrivals of {@code requestRate} per second (all at once when infinite), at most {@code maxConcurrency} in
 * flight (unbounded when 0). Every request is finished before {@link #run} returns; a request that fails counts as an
 * error with its kind (see the targets).
 */
public final class ServeLoad {
  /** How to load the server. */
  public record Settings(URI baseUrl, String model, String apiKey, int requests, double requestRate,
      int maxConcurrency, double temperature, boolean ignoreEos, Duration timeout, long seed) {
    /** {@code baseUrl}: the server's (null for an in-process target). */
    public Settings {
      if (requests < 1) {
        throw new IllegalArgumentException("--num-requests " + requests + ": expected at least 1");
      }
      if (!(requestRate > 0)) {
        throw new IllegalArgumentException("--request-rate " + requestRate + ": expected a rate > 0 (or inf)");
      }
      if (maxConcurrency < 0) {
        throw new IllegalArgumentException("--max-concurrency " + maxConcurrency + ": expected >= 0 (0: unbounded)");
      }
    }
  }

  /** Where requests go: sends one and waits for its end, whatever happens (failures are outcomes). */
  public interface Target {
    /** {@code runStart}: the run's start, from which the outcome's send time counts. */
    RequestOutcome send(PromptSource.Prompt prompt, long runStart);

    /** The endpoint, for the report. */
    String describe();
  }

  private final Settings settings;
  private final Target target;
  private final PrintStream progress;

  /** Against the server at {@code settings.baseUrl()}; {@code progress}: where the progress bar goes (null: none). */
  public ServeLoad(Settings settings, PrintStream progress) {
    this(settings, progress, new HttpTarget(settings));
  }

  public ServeLoad(Settings settings, PrintStream progress, Target target) {
    this.settings = settings;
    this.target = Objects.requireNonNull(target, "target");
    this.progress = progress;
  }

  public String endpoint() {
    return target.describe();
  }

  /** Runs the load; prompts come from {@code source} in order. */
  public ServeReport run(PromptSource source) throws InterruptedException {
    int n = settings.requests();
    List<PromptSource.Prompt> prompts = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      prompts.add(source.next());
    }
    RequestOutcome[] outcomes = new RequestOutcome[n];
    AtomicInteger done = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    ProgressBar bar = progress == null ? null : new ProgressBar(progress, n, done, failed);
    ScheduledExecutorService ticker = bar == null ? null : Executors.newSingleThreadScheduledExecutor(daemon());
    long start = System.nanoTime();
    if (ticker != null) {
      ticker.scheduleAtFixedRate(() -> bar.draw(System.nanoTime() - start, false), 0, 200, TimeUnit.MILLISECONDS);
    }
    try {
      dispatch(prompts, outcomes, start, done, failed);
    } finally {
      if (ticker != null) {
        ticker.shutdownNow();
        ticker.awaitTermination(1, TimeUnit.SECONDS);
      }
    }
    if (bar != null) {
      bar.draw(System.nanoTime() - start, true);
    }
    long end = Arrays.stream(outcomes).mapToLong(o -> o.sentNanos() + o.e2eNanos()).max().orElse(0);
    return new ServeReport(Arrays.asList(outcomes), Math.max(1, end));
  }

  /** Starts every request at its arrival time, within the concurrency limit, and waits for all of them. */
  private void dispatch(List<PromptSource.Prompt> prompts, RequestOutcome[] outcomes, long start, AtomicInteger done,
      AtomicInteger failed) throws InterruptedException {
    Semaphore slots = settings.maxConcurrency() > 0 ? new Semaphore(settings.maxConcurrency()) : null;
    ExecutorService pool = Executors.newCachedThreadPool(daemon());
    SplittableRandom arrivals = new SplittableRandom(settings.seed());
    double nextArrival = 0;
    try {
      for (int i = 0; i < prompts.size(); i++) {
        if (!Double.isInfinite(settings.requestRate())) {
          long wait = start + (long) (nextArrival * 1e9) - System.nanoTime();
          if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
          }
          nextArrival += -Math.log(1 - arrivals.nextDouble()) / settings.requestRate(); // exponential gaps
        }
        if (slots != null) {
          slots.acquire();
        }
        int index = i;
        pool.execute(() -> {
          try {
            outcomes[index] = target.send(prompts.get(index), start);
          } finally {
            if (outcomes[index] == null || !outcomes[index].ok()) {
              failed.incrementAndGet();
            }
            done.incrementAndGet();
            if (slots != null) {
              slots.release();
            }
          }
        });
      }
      pool.shutdown();
      pool.awaitTermination(Long.MAX_VALUE, TimeUnit.NANOSECONDS);
    } finally {
      pool.shutdownNow();
    }
  }

  private static ThreadFactory daemon() {
    return r -> {
      Thread t = new Thread(r, "bench-serve");
      t.setDaemon(true);
      return t;
    };
  }

  /** A one-line bar on {@code out}, redrawn in place. */
  private static final class ProgressBar {
    private final PrintStream out;
    private final int total;
    private final AtomicInteger done;
    private final AtomicInteger failed;

    ProgressBar(PrintStream out, int total, AtomicInteger done, AtomicInteger failed) {
      this.out = out;
      this.total = total;
      this.done = done;
      this.failed = failed;
    }

    void draw(long elapsedNanos, boolean last) {
      int d = done.get();
      int width = 30;
      int filled = (int) ((long) d * width / total);
      out.printf(Locale.ROOT, "\rbench-serve [%s%s] %d/%d requests, %d errors, %.1f s%s",
          "#".repeat(filled), " ".repeat(width - filled), d, total, failed.get(), elapsedNanos / 1e9,
          last ? System.lineSeparator() : "");
      out.flush();
    }
  }
}
