package io.autoglm.internal;

import org.slf4j.MDC;
import org.slf4j.spi.MDCAdapter;

/**
 * The engine's logging conventions: the request id goes in the SLF4J MDC under {@value #REQUEST_ID_KEY} (log
 * patterns read it as {@code %X{autoglm.request_id}}), and prompt text is logged only when the user turned that on.
 */
public final class RequestLogging {
  public static final String REQUEST_ID_KEY = "autoglm.request_id";

  /** Puts a request id in the MDC until {@link #close()}, which restores what was there before. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  private RequestLogging() {}

  /** Use as {@code try (var scope = RequestLogging.requestId(id)) { log... }} on the thread that logs. */
  public static Scope requestId(String requestId) {
    return requestId(requestId, MDC.getMDCAdapter());
  }

  /** Against a given adapter: bindings such as slf4j-simple ship a no-op one (tests). */
  static Scope requestId(String requestId, MDCAdapter mdc) {
    String previous = mdc.get(REQUEST_ID_KEY);
    mdc.put(REQUEST_ID_KEY, requestId);
    return () -> {
      if (previous == null) {
        mdc.remove(REQUEST_ID_KEY);
      } else {
        mdc.put(REQUEST_ID_KEY, previous);
      }
    };
  }

  /** The prompt itself when {@code logPrompts} is on; otherwise only its length, e.g. {@code <prompt: 812 chars>}. */
  public static String prompt(String prompt, boolean logPrompts) {
    if (prompt == null) {
      return "<no prompt>";
    }
    return logPrompts ? prompt : "<prompt: " + prompt.length() + " chars>";
  }
}
