package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

/**
 * The hang-up rule against a connection whose probes answer a scripted sequence: the client is gone only after
 * {@link DisconnectWatch#POSITIVES} positive probes in a row, a negative probe starts the count again, and nothing
 * is probed after the end.
 */
class DisconnectWatchTest {
  private final AtomicInteger gone = new AtomicInteger();
  private final Queue<Integer> answers = new ArrayDeque<>();
  private final DisconnectWatcher watcher = new DisconnectWatcher(Duration.ZERO); // probes run by hand

  private DisconnectWatch watch(List<Integer> available) {
    answers.addAll(available);
    MockHttpServletRequest request = new MockHttpServletRequest("POST", "/v1/chat/completions") {
      @Override
      public ServletInputStream getInputStream() {
        return new Scripted();
      }
    };
    request.setAsyncSupported(true);
    request.startAsync(request, new MockHttpServletResponse());
    return DisconnectWatch.start(request, watcher, gone::incrementAndGet);
  }

  /** Probes {@code n} times; returns the probe after which the client was gone (0: never). */
  private int probe(DisconnectWatch w, int n) {
    for (int i = 1; i <= n; i++) {
      w.probe();
      if (gone.get() > 0) {
        return i;
      }
    }
    return 0;
  }

  @Test
  void aLastingPositiveIsAHangUpOnItsSecondProbe() {
    DisconnectWatch w = watch(List.of(0, 0, 1, 1, 1));
    assertThat(probe(w, 5)).isEqualTo(4);
    assertThat(answers).as("no probe after the hang-up").containsExactly(1);
  }

  @Test
  void positivesThatDoNotLastAreNotAHangUp() {
    DisconnectWatch w = watch(List.of(1, 0, 1, 0, 0, 1, 0));
    assertThat(probe(w, 7)).isZero();
    assertThat(gone).hasValue(0);
  }

  @Test
  void aStoppedWatchProbesNothing() {
    DisconnectWatch w = watch(List.of(1, 1, 1));
    w.probe();
    w.stop();
    assertThat(probe(w, 2)).isZero();
    assertThat(answers).hasSize(2);
  }

  /** Answers {@code available()} from the script. */
  private final class Scripted extends ServletInputStream {
    @Override
    public int available() {
      return answers.remove();
    }

    @Override
    public int read() {
      return -1;
    }

    @Override
    public boolean isFinished() {
      return true;
    }

    @Override
    public boolean isReady() {
      return true;
    }

    @Override
    public void setReadListener(ReadListener listener) {}
  }
}
