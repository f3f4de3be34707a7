package io.autoglm.redis;

import io.lettuce.core.RedisURI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The Redis tests' setup, as a JUnit extension: a real {@link RedisServer} (the test skips where redis-server is not
 * installed), and the clients a test opens, closed after it and before the server stops.
 *
 * <pre>{@code
 * @RegisterExtension static final RedisFixture REDIS = RedisFixture.perClass(); // one server, keys kept apart
 * @RegisterExtension final RedisFixture redis = RedisFixture.perTest();          // a server of its own per test
 * }</pre>
 */
public final class RedisFixture implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
    AfterEachCallback {
  /**
   * Long enough that a loaded CI host never times out a healthy Redis: under {@link FailMode#OPEN} a timeout would
   * silently admit through the fallback (by default unlimited) and break the tests' exact counts.
   */
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
  private final boolean perTest;
  private final AtomicInteger prefixes = new AtomicInteger();
  private final List<AutoCloseable> clients = new ArrayList<>();
  private RedisServer server;

  private RedisFixture(boolean perTest) {
    this.perTest = perTest;
  }

  /** One server for the test class, in a static field; tests keep apart by key prefix ({@link #isolated()}). */
  public static RedisFixture perClass() {
    return new RedisFixture(false);
  }

  /** A fresh server for each test, for tests that kill or restart it ({@link RedisServer#stop}). */
  public static RedisFixture perTest() {
    return new RedisFixture(true);
  }

  public RedisServer server() {
    if (server == null) {
      String field = perTest ? "perTest() must be an" : "perClass() must be a static";
      throw new IllegalStateException("no redis-server is running: RedisFixture." + field
          + " @RegisterExtension field, used inside a test");
    }
    return server;
  }

  public RedisURI uri() {
    return server().uri();
  }

  /** Closes {@code client} after the test, before the server stops. */
  public <C extends AutoCloseable> C track(C client) {
    synchronized (clients) {
      clients.add(client);
    }
    return client;
  }

  /** The tests' options: a 10 s command timeout, so that a stalled Redis fails the test rather than hangs it. */
  public RedisOptions options() {
    return RedisOptions.defaults().withCommandTimeout(COMMAND_TIMEOUT);
  }

  /** {@link #options()} with a key prefix no other client of this fixture has: Redis outlives each test. */
  public RedisOptions isolated() {
    return options().withKeyPrefix("test-" + prefixes.incrementAndGet() + ":");
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    if (!perTest) {
      server = RedisServer.start();
    }
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    if (perTest) {
      server = RedisServer.start();
    }
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    List<AutoCloseable> open;
    synchronized (clients) {
      open = List.copyOf(clients);
      clients.clear();
    }
    try {
      closeAll(open);
    } finally {
      if (perTest) {
        stopServer();
      }
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (!perTest) {
      stopServer();
    }
  }

  private static void closeAll(List<AutoCloseable> open) throws Exception {
    Exception first = null;
    for (AutoCloseable c : open) {
      try {
        c.close();
      } catch (Exception e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private void stopServer() {
    if (server != null) {
      server.close();
      server = null;
    }
  }
}
