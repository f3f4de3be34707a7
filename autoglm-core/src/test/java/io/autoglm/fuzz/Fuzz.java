package io.autoglm.fuzz;

import io.autoglm.ModelLoadException;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * A small seeded property runner: {@code tries} inputs drawn from one {@link SplittableRandom}, each checked by a
 * {@link FuzzHarness}. The seed is random per run and printed with the count ("FUZZ ...: N inputs ..., seed S");
 * {@code -Dautoglm.fuzz.seed=S} replays a run, and {@code -Dautoglm.fuzz.scale=K} tries K times as many inputs (a
 * longer local run). A property also stops after {@code -Dautoglm.fuzz.maxSeconds} (default 5), so that a slow or
 * loaded CI machine stays bounded; the printed count is then the number actually tried. A failure names the
 * property, the seed, the try and the input.
 */
public final class Fuzz {
  private Fuzz() {}

  /** Checks one input, throwing on a broken contract. */
  @FunctionalInterface
  public interface Check<T> {
    void accept(FuzzHarness harness, T input) throws Exception;
  }

  /** {@link #forAll(String, int, Class, Function, Check)} for parsers that refuse with ModelLoadException. */
  public static <T> void forAll(String name, int tries, Function<SplittableRandom, T> generator, Check<T> check) {
    forAll(name, tries, ModelLoadException.class, generator, check);
  }

  /** Runs the property; {@code refusal} is the one exception its harness lets a parser throw for bad input. */
  public static <T> void forAll(String name, int tries, Class<? extends Exception> refusal,
      Function<SplittableRandom, T> generator, Check<T> check) {
    long seed = Long.getLong("autoglm.fuzz.seed", System.nanoTime() ^ name.hashCode());
    int n = (int) Math.min(Integer.MAX_VALUE, (long) tries * Integer.getInteger("autoglm.fuzz.scale", 1));
    long deadline = System.nanoTime() + Long.getLong("autoglm.fuzz.maxSeconds", 5) * 1_000_000_000L;
    SplittableRandom random = new SplittableRandom(seed);
    FuzzHarness harness = new FuzzHarness(name, refusal, FuzzHarness.LIMIT_SECONDS * 1000);
    String stopped = "";
    try {
      for (int i = 0; i < n; i++) {
        if (System.nanoTime() > deadline) {
          stopped = ", stopped at the time limit after " + i + " of " + n;
          break;
        }
        T input = generator.apply(random);
        try {
          check.accept(harness, input);
        } catch (Throwable t) {
          throw new AssertionError(String.format("%s failed at try %d of %d; replay with -Dautoglm.fuzz.seed=%d: %s",
              name, i + 1, n, seed, t.getMessage()), t);
        }
      }
    } finally {
      System.out.println(harness.summary() + ", seed " + seed + stopped);
      harness.close();
    }
  }

  /** Up to {@code max} random bytes; one in eight is all zeros or all 0xff, which parsers meet as padding. */
  public static byte[] bytes(SplittableRandom r, int max) {
    byte[] b = new byte[r.nextInt(max + 1)];
    int mode = r.nextInt(16);
    for (int i = 0; i < b.length; i++) {
      b[i] = mode == 0 ? 0 : mode == 1 ? (byte) 0xff : (byte) r.nextInt(256);
    }
    return b;
  }

  /** Up to {@code max} chars, each from {@code chars}. */
  public static String chars(SplittableRandom r, String chars, int max) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0, n = r.nextInt(max + 1); i < n; i++) {
      sb.append(chars.charAt(r.nextInt(chars.length())));
    }
    return sb.toString();
  }

  /** Up to {@code max} arbitrary UTF-16 units, unpaired surrogates and control characters included. */
  public static String anyText(SplittableRandom r, int max) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0, n = r.nextInt(max + 1); i < n; i++) {
      sb.append((char) (r.nextBoolean() ? r.nextInt(128) : r.nextInt(0x10000)));
    }
    return sb.toString();
  }

  public static <T> T pick(SplittableRandom r, List<T> from) {
    return from.get(r.nextInt(from.size()));
  }
}
