package io.autoglm.tokenizer;

import java.util.List;
import java.util.Optional;

/**
 * Finds stop strings in streamed text. Text that could still be the start of a stop string is held back, so no
 * part of a stop string is ever emitted, even when it arrives over several tokens. Invariant: the held text is the
 * longest suffix of the stream that is a proper prefix of some stop string. Not thread-safe: one per sequence.
 */
public final class StopStringMatcher {
  private final List<String> stops;
  private String held = "";
  private boolean stopped;

  /**
   * @param stops the stop strings; each non-empty and well-formed UTF-16
   */
  public StopStringMatcher(List<String> stops) {
    this.stops = List.copyOf(stops);
    for (int i = 0; i < this.stops.size(); i++) {
      String s = this.stops.get(i);
      if (s.isEmpty()) {
        throw new IllegalArgumentException("stop string " + i + " is empty: expected at least one character");
      }
      TextChecks.requireWellFormed(s, "stop string " + i);
    }
  }

  /**
   * What feeding {@code delta} let out.
   *
   * @param text       text safe to emit now (never any part of a stop string)
   * @param stopString the stop string that ended the stream, if one did
   */
  public record Step(String text, Optional<String> stopString) {
    public Step {
      java.util.Objects.requireNonNull(text, "text");
      java.util.Objects.requireNonNull(stopString, "stopString");
    }

    public boolean stopped() {
      return stopString.isPresent();
    }
  }

  /** Feeds the next piece of the stream. */
  public Step feed(String delta) {
    if (stopped) {
      throw new IllegalStateException("the stream already stopped at a stop string; feed nothing after a stop");
    }
    String text = held + delta;
    int first = Integer.MAX_VALUE;
    String hit = null;
    for (String stop : stops) {
      int at = text.indexOf(stop);
      if (at >= 0 && at < first) {
        first = at;
        hit = stop;
      }
    }
    if (hit != null) {
      stopped = true;
      held = "";
      return new Step(text.substring(0, first), Optional.of(hit));
    }
    int keep = longestPrefixSuffix(text);
    held = text.substring(text.length() - keep);
    return new Step(text.substring(0, text.length() - keep), Optional.empty());
  }

  /** Ends a stream that did not stop: returns the held text, which turned out not to be a stop string. */
  public String flush() {
    String out = stopped ? "" : held;
    held = "";
    return out;
  }

  /** Length of the longest suffix of {@code text} that is a proper prefix of a stop string. */
  private int longestPrefixSuffix(String text) {
    int best = 0;
    for (String stop : stops) {
      for (int n = Math.min(stop.length() - 1, text.length()); n > best; n--) {
        if (text.regionMatches(text.length() - n, stop, 0, n)) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
