package io.autoglm;

import io.autoglm.tokenizer.IncrementalDetokenizer;
import io.autoglm.tokenizer.StopStringMatcher;

/**
 * Turns one request's token ids into text deltas on the engine thread: incremental UTF-8-safe detokenization, then
 * stop strings held back until they can no longer match. Collects the full text.
 */
final class TextStream {
  private final IncrementalDetokenizer detokenizer;
  private final StopStringMatcher stops;
  private final StringBuilder text = new StringBuilder();
  private boolean stopped;

  TextStream(IncrementalDetokenizer detokenizer, StopStringMatcher stops) {
    this.detokenizer = detokenizer;
    this.stops = stops;
  }

  /** The text this token completes; sets {@link #stopped()} when a stop string appears. */
  String add(int tokenId) {
    if (stopped) {
      return "";
    }
    StopStringMatcher.Step step = stops.feed(detokenizer.add(tokenId));
    text.append(step.text());
    stopped = step.stopped();
    return step.text();
  }

  boolean stopped() {
    return stopped;
  }

  /** Releases held-back text at the end (nothing after a stop string). */
  String finish() {
    if (stopped) {
      return "";
    }
    StopStringMatcher.Step step = stops.feed(detokenizer.finish());
    stopped = step.stopped();
    String rest = step.text() + (stopped ? "" : stops.flush());
    text.append(rest);
    return rest;
  }

  String text() {
    return text.toString();
  }
}
