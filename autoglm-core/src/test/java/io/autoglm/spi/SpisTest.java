package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult.Usage;
import org.junit.jupiter.api.Test;

/**
 * ServiceLoader discovery, on test-only service types (so no other test sees a provider):
 * {@link Greeter} has providers ranked 0 and 5, {@link Tied} two of rank 3, {@link Missing} none.
 * The service files are under src/test/resources/META-INF/services.
 */
class SpisTest {
  public interface Greeter {
    String greet();
  }

  public static final class PlainGreeter implements Greeter {
    @Override
    public String greet() {
      return "plain";
    }
  }

  @Spis.Rank(5)
  public static final class PreferredGreeter implements Greeter {
    @Override
    public String greet() {
      return "preferred";
    }
  }

  public interface Tied {}

  @Spis.Rank(3)
  public static final class TiedA implements Tied {}

  @Spis.Rank(3)
  public static final class TiedB implements Tied {}

  @Spis.Rank(1)
  public static final class TiedLow implements Tied {}

  public interface Missing {}

  @Test
  void highestRankWins() {
    assertEquals("preferred", Spis.load(Greeter.class, () -> "fallback").greet());
  }

  @Test
  void noProviderGivesTheFallback() {
    Missing fallback = new Missing() {};
    assertSame(fallback, Spis.load(Missing.class, fallback));
    assertSame(ResponseCache.none(), Spis.load(ResponseCache.class, ResponseCache.none()));
    assertSame(RateLimiter.unlimited(), Spis.load(RateLimiter.class, RateLimiter.unlimited()));
    assertSame(EngineMetrics.none(), Spis.load(EngineMetrics.class, EngineMetrics.none()));
  }

  @Test
  void aTieAtTheTopIsAnError() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Spis.load(Tied.class, new Tied() {}));
    assertEquals("2 implementations of io.autoglm.spi.SpisTest$Tied share the highest rank 3 "
        + "(io.autoglm.spi.SpisTest$TiedA, io.autoglm.spi.SpisTest$TiedB): give one a higher @Spis.Rank, or pass "
        + "one to the builder", e.getMessage());
  }

  @Test
  void noOpMetricsAcceptEveryCallback() {
    EngineMetrics none = EngineMetrics.none();
    assertSame(none, none.forModel("any"));
    none.onStep(1, 2, 0.5, 3);
    none.onFirstToken("chat", 1);
    none.onRequestFinished("chat", new Usage(1, 1, 0), FinishReason.STOP, 2, 1);
    none.onRequestFailed("chat", "X", 1);
    none.onPreemption();
    none.onPrefixCacheLookup(1, 2);
    none.onResponseCacheLookup(true);
    none.onRateLimited(RateLimitExceededException.Limit.CONCURRENT_REQUESTS);
    assertInstanceOf(EngineMetrics.class, none);
  }
}
