package io.autoglm;

import io.autoglm.tokenizer.IncrementalDetokenizer;
import io.autoglm.tokenizer.StopStringMatcher;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.answer.AnswerParser;
import io.autoglm.toolcall.ParsedAnswer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Turns one request's token ids into text deltas on the engine thread: incremental UTF-8-safe detokenization, then
 * stop strings held back until they can no longer match, then (when the request asked for it) the answer parser.
 * Collects the full text; the parser sees exactly the text given out, so the parsed answer is that of the full text.
 */
final class TextStream {
  private final IncrementalDetokenizer detokenizer;
  private final StopStringMatcher stops;
  private final Optional<AnswerParser> parser;
  private final StringBuilder text = new StringBuilder();
  private List<AnswerDelta> deltas = new ArrayList<>();
  private boolean stopped;

  TextStream(IncrementalDetokenizer detokenizer, StopStringMatcher stops) {
    this(detokenizer, stops, Optional.empty());
  }

  TextStream(IncrementalDetokenizer detokenizer, StopStringMatcher stops, Optional<AnswerParser> parser) {
    this.detokenizer = detokenizer;
    this.stops = stops;
    this.parser = parser;
  }

  /** The text this token completes; sets {@link #stopped()} when a stop string appears. */
  String add(int tokenId) {
    if (stopped) {
      return "";
    }
    StopStringMatcher.Step step = stops.feed(detokenizer.add(tokenId));
    text.append(step.text());
    stopped = step.stopped();
    parse(step.text(), false);
    return step.text();
  }

  boolean stopped() {
    return stopped;
  }

  /** Releases held-back text at the end (nothing after a stop string). */
  String finish() {
    String rest = "";
    if (!stopped) {
      StopStringMatcher.Step step = stops.feed(detokenizer.finish());
      stopped = step.stopped();
      rest = step.text() + (stopped ? "" : stops.flush());
      text.append(rest);
    }
    parse(rest, true);
    return rest;
  }

  private void parse(String delta, boolean end) {
    if (parser.isPresent()) {
      if (!delta.isEmpty()) {
        deltas.addAll(parser.get().feed(delta));
      }
      if (end) {
        deltas.addAll(parser.get().finish());
      }
    }
  }

  /** The parsed pieces since the last call. */
  List<AnswerDelta> takeDeltas() {
    List<AnswerDelta> taken = deltas;
    deltas = new ArrayList<>();
    return taken;
  }

  /** The parsed answer, when parsing (complete after {@link #finish()}). */
  Optional<ParsedAnswer> answer() {
    return parser.map(AnswerParser::result);
  }

  String text() {
    return text.toString();
  }
}
