package io.autoglm.fuzz;

import static org.junit.jupiter.api.Assertions.fail;

import io.autoglm.ModelLoadException;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Runs one fuzz input against a parser and checks the contract every input boundary keeps: the parser returns, or
 * throws its refusal exception ({@link ModelLoadException} unless told otherwise, e.g. IllegalArgumentException for a
 * chat prompt); any other exception or error fails the property, and so does a parse that takes longer than
 * {@link #LIMIT_SECONDS} (a hang). An AssertionError thrown by the parse (a property checked inside it) fails the
 * property with its own message and the input. Counts the inputs tried and how each ended, for the line {@link Fuzz}
 * prints after each property ("FUZZ ...: N inputs ... T ms", T from the first input to the last). Public, with
 * {@link Fuzz}, {@link Mutations} and {@link JsonValues}, for other modules' tests (autoglm-core's test-jar).
 */
public final class FuzzHarness {
  public static final long LIMIT_SECONDS = 5;

  private final long limitMillis;
  private final Class<? extends Exception> refusal;

  /** How one input ended. */
  public enum Outcome { ACCEPTED, REFUSED }

  private final String name;
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final long startNanos = System.nanoTime();
  private volatile long endNanos = startNanos;
  private ExecutorService worker = newWorker();

  public FuzzHarness(String name) {
    this(name, LIMIT_SECONDS * 1000);
  }

  public FuzzHarness(String name, long limitMillis) {
    this(name, ModelLoadException.class, limitMillis);
  }

  /** A harness whose parser refuses bad input with {@code refusal} (it and its subclasses count as refused). */
  public FuzzHarness(String name, Class<? extends Exception> refusal, long limitMillis) {
    this.name = name;
    this.refusal = refusal;
    this.limitMillis = limitMillis;
  }

  private static ExecutorService newWorker() {
    return Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "fuzz-worker");
      t.setDaemon(true);
      return t;
    });
  }

  /** Runs {@code parse} on the worker thread; {@code input} describes the input if the contract breaks. */
  public Outcome run(Callable<?> parse, Supplier<String> input) {
    try {
      return outcome(parse, input);
    } finally {
      endNanos = System.nanoTime();
    }
  }

  private Outcome outcome(Callable<?> parse, Supplier<String> input) {
    Future<?> f = worker.submit(parse);
    try {
      f.get(limitMillis, TimeUnit.MILLISECONDS);
      accepted.incrementAndGet();
      return Outcome.ACCEPTED;
    } catch (TimeoutException e) {
      f.cancel(true);
      worker.shutdownNow();
      worker = newWorker();
      return fail(name + ": no answer within " + limitMillis + " ms (a hang?) for input " + input.get());
    } catch (ExecutionException e) {
      if (refusal.isInstance(e.getCause())) {
        refused.incrementAndGet();
        return Outcome.REFUSED;
      }
      if (e.getCause() instanceof AssertionError broken) {
        throw new AssertionError(name + ": " + broken.getMessage() + " for input " + input.get(), broken);
      }
      throw new AssertionError(name + ": " + e.getCause() + " escaped (only " + refusal.getSimpleName()
          + " may) for input " + input.get(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** The line the lead quotes: inputs tried, how they ended, and the time taken. */
  public String summary() {
    long total = accepted.get() + refused.get();
    return String.format("FUZZ %s: %d inputs (%d accepted, %d refused with %s), 0 other exceptions, 0 hangs, %d ms",
        name, total, accepted.get(), refused.get(), refusal.getSimpleName(), (endNanos - startNanos) / 1_000_000);
  }

  public void close() {
    worker.shutdownNow();
  }

  /** Up to 200 bytes of an input, as hex, for a failure message. */
  public static String hex(byte[] bytes) {
    StringBuilder sb = new StringBuilder(bytes.length + " bytes: ");
    for (int i = 0; i < Math.min(bytes.length, 200); i++) {
      sb.append(String.format("%02x", bytes[i]));
    }
    return sb.append(bytes.length > 200 ? "…" : "").toString();
  }
}
