package io.autoglm.answer;

import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Splits a chat answer, fed as text deltas, into content, reasoning and tool calls ({@link AnswerFormat} says which
 * syntax). Invariants: the deltas of any split of a text concatenate to {@link #parse} of the whole text (the parser
 * holds back only what a later delta could still change: a partial tag, whitespace before a possible call, an open
 * call); nothing is ever lost or thrown: text that is not a well-formed call stays text.
 *
 * The rules, and how they relate to vLLM's parsers, are in this package's documentation.
 * Not thread-safe: one parser per answer.
 */
public final class AnswerParser {
  static final String THINK_OPEN = "<think>";
  static final String THINK_CLOSE = "</think>";
  static final String CALL_OPEN = "<tool_call>";
  static final String CALL_CLOSE = "</tool_call>";

  private enum Mode { START, THINK, CONTENT, CALL, GLM4_PROBE, GLM4_CALLS }

  private final AnswerFormat format;
  private final Supplier<String> ids;
  private final Set<String> toolNames;
  private final boolean xml;
  private final StringBuilder pending = new StringBuilder(); // text not yet given out
  private final StringBuilder content = new StringBuilder();
  private StringBuilder reasoning; // null until a thinking block opens
  private final List<ToolCall> calls = new ArrayList<>();
  private Mode mode;
  private Mode callOrigin = Mode.CONTENT; // where an open call's text goes back to if it is malformed
  private String heldWhitespace = ""; // whitespace before an open call; dropped if the call is well-formed
  private boolean dropLeading = true; // content's leading whitespace only separates it
  private boolean finished;
  private List<AnswerDelta> out = new ArrayList<>();

  /** A parser whose call ids are random {@code call_…} strings. */
  public AnswerParser(AnswerFormat format) {
    this(format, AnswerText::randomCallId);
  }

  /** @param ids gives each call's id, in call order */
  public AnswerParser(AnswerFormat format, Supplier<String> ids) {
    this.format = format;
    this.ids = ids;
    this.toolNames = ToolSchemas.names(format.tools());
    this.xml = format.syntax() == AnswerFormat.Syntax.GLM45_XML;
    if (format.startsInThinking()) {
      reasoning = new StringBuilder();
      mode = Mode.THINK;
    } else {
      mode = format.thinking() ? Mode.START : contentMode();
    }
  }

  /** Parses a whole answer. */
  public static ParsedAnswer parse(AnswerFormat format, String answer, Supplier<String> ids) {
    AnswerParser p = new AnswerParser(format, ids);
    p.feed(answer);
    p.finish();
    return p.result();
  }

  /** Parses a whole answer with random call ids. */
  public static ParsedAnswer parse(AnswerFormat format, String answer) {
    return parse(format, answer, AnswerText::randomCallId);
  }

  /** The pieces this delta completes (often none while a tag or a call is open). */
  public List<AnswerDelta> feed(String delta) {
    if (finished) {
      throw new IllegalStateException("feed after finish: the answer already ended");
    }
    pending.append(delta);
    return drain(false);
  }

  /** Ends the answer and gives out everything held back. */
  public List<AnswerDelta> finish() {
    if (finished) {
      return List.of();
    }
    finished = true;
    return drain(true);
  }

  /** The answer so far (complete after {@link #finish()}). */
  public ParsedAnswer result() {
    return new ParsedAnswer(content.toString(), Optional.ofNullable(reasoning).map(StringBuilder::toString), calls);
  }

  private List<AnswerDelta> drain(boolean end) {
    while (step(end)) {
      // each step consumes text or changes mode
    }
    List<AnswerDelta> given = AnswerText.coalesce(out);
    out = new ArrayList<>();
    return given;
  }

  private boolean step(boolean end) {
    switch (mode) {
      case START:
        return start(end);
      case THINK:
        return think(end);
      case CONTENT:
        return content(end);
      case CALL:
        return call(end);
      case GLM4_PROBE:
        return glm4Probe(end);
      default:
        return glm4Calls(end);
    }
  }

  private boolean start(boolean end) {
    int i = CallReader.skipWhitespace(pending.toString(), 0);
    String rest = pending.substring(i);
    if (rest.startsWith(THINK_OPEN)) {
      pending.delete(0, i + THINK_OPEN.length());
      reasoning = new StringBuilder();
      mode = Mode.THINK;
      return true;
    }
    if (!end && THINK_OPEN.startsWith(rest)) {
      return false;
    }
    mode = contentMode();
    return true;
  }

  private boolean think(boolean end) {
    int close = pending.indexOf(THINK_CLOSE);
    int call = xml ? pending.indexOf(CALL_OPEN) : -1;
    if (close >= 0 && (call < 0 || close < call)) {
      reasoning(pending.substring(0, close));
      pending.delete(0, close + THINK_CLOSE.length());
      mode = contentMode();
      dropLeading = true;
      return true;
    }
    if (call >= 0) {
      reasoning(pending.substring(0, call));
      pending.delete(0, call);
      openCall(Mode.THINK, "");
      return true;
    }
    int keep = end ? 0 : AnswerText.partialSuffix(pending, THINK_CLOSE, xml ? CALL_OPEN : THINK_CLOSE);
    reasoning(pending.substring(0, pending.length() - keep));
    pending.delete(0, pending.length() - keep);
    return false;
  }

  private boolean content(boolean end) {
    int call = xml ? pending.indexOf(CALL_OPEN) : -1;
    if (call >= 0) {
      String before = pending.substring(0, call);
      String kept = before.stripTrailing();
      content(kept);
      pending.delete(0, call);
      openCall(Mode.CONTENT, before.substring(kept.length()));
      return true;
    }
    int emit = pending.length();
    if (!end && xml) {
      emit -= AnswerText.partialSuffix(pending, CALL_OPEN, CALL_OPEN);
      emit = pending.substring(0, emit).stripTrailing().length(); // a call may follow this whitespace
    }
    content(pending.substring(0, emit));
    pending.delete(0, emit);
    return false;
  }

  private void openCall(Mode origin, String whitespace) {
    callOrigin = origin;
    heldWhitespace = whitespace;
    mode = Mode.CALL;
  }

  /** {@code pending} starts with {@code <tool_call>}. */
  private boolean call(boolean end) {
    int close = pending.indexOf(CALL_CLOSE, CALL_OPEN.length());
    int next = pending.indexOf(CALL_OPEN, CALL_OPEN.length());
    if (next >= 0 && (close < 0 || next < close)) { // a new call opens before this one closed
      String rejected = pending.substring(0, next);
      String kept = rejected.stripTrailing();
      Mode origin = callOrigin;
      pending.replace(0, next, kept);
      rejectCall(kept.length());
      openCall(origin, rejected.substring(kept.length()));
      return true;
    }
    if (close < 0) {
      return end && rejectCall(pending.length());
    }
    Optional<CallReader.Call> c = CallReader.readXml(pending.substring(CALL_OPEN.length(), close), format.tools());
    if (c.isEmpty()) {
      return rejectCall(close + CALL_CLOSE.length());
    }
    pending.delete(0, close + CALL_CLOSE.length());
    emitCall(c.get());
    heldWhitespace = "";
    mode = Mode.CONTENT;
    dropLeading = true;
    return true;
  }

  /** The first {@code length} chars of {@code pending} were no call: they go back, as text, where they came from. */
  private boolean rejectCall(int length) {
    String text = heldWhitespace + pending.substring(0, length);
    pending.delete(0, length);
    heldWhitespace = "";
    mode = callOrigin;
    if (callOrigin == Mode.THINK) {
      reasoning(text);
    } else {
      content(text);
    }
    return true;
  }

  private boolean glm4Probe(boolean end) {
    String s = pending.toString();
    int i = CallReader.skipWhitespace(s, 0);
    int nl = s.indexOf('\n', i);
    if (nl < 0) {
      String head = s.substring(i).stripTrailing();
      if (!end && toolNames.stream().anyMatch(n -> n.startsWith(head))) {
        return false;
      }
      mode = Mode.CONTENT;
      return true;
    }
    int j = CallReader.skipWhitespace(s, nl + 1);
    if (!toolNames.contains(s.substring(i, nl).strip()) || j < s.length() && s.charAt(j) != '{') {
      mode = Mode.CONTENT;
      return true;
    }
    if (j == s.length() && !end) {
      return false;
    }
    mode = j == s.length() ? Mode.CONTENT : Mode.GLM4_CALLS;
    return true;
  }

  private boolean glm4Calls(boolean end) {
    if (!end) {
      return false;
    }
    Optional<List<CallReader.Call>> read = CallReader.readGlm4(pending.toString(), toolNames);
    if (read.isPresent()) {
      pending.setLength(0);
      read.get().forEach(this::emitCall);
      dropLeading = true;
    }
    mode = Mode.CONTENT;
    return true;
  }

  /** Content begins: GLM-4 calls can only open an answer whose content is still empty. */
  private Mode contentMode() {
    return format.syntax() == AnswerFormat.Syntax.GLM4_JSON && content.length() == 0 && calls.isEmpty()
        ? Mode.GLM4_PROBE : Mode.CONTENT;
  }

  private void emitCall(CallReader.Call c) {
    int index = calls.size();
    ToolCall call = new ToolCall(ids.get(), c.name(), c.argumentsJson());
    calls.add(call);
    out.add(new AnswerDelta.ToolCallStart(index, call.id(), call.name()));
    out.add(new AnswerDelta.ToolCallArguments(index, call.argumentsJson()));
  }

  private void content(String s) {
    if (dropLeading) {
      s = s.stripLeading();
    }
    if (!s.isEmpty()) {
      dropLeading = false;
      content.append(s);
      out.add(new AnswerDelta.Content(s));
    }
  }

  private void reasoning(String s) {
    if (!s.isEmpty()) {
      reasoning.append(s);
      out.add(new AnswerDelta.Reasoning(s));
    }
  }
}
