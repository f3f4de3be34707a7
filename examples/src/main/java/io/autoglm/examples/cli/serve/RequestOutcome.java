package io.autoglm.examples.cli.serve;

/**
 * One request of a run. Times are nanoseconds from the run's start ({@code sentNanos}) or from the request's send
 * (the rest); {@code ttftNanos} is -1 when no token arrived. {@code error} is null on success, else a short kind
 * ({@code http_429}, {@code stream_error}, {@code no_done}, {@code io}) and {@code detail} says more.
 *
 * @param promptTokens the server's usage count, or -1 when it sent none
 * @param outputTokens the server's usage count, else the content chunks received
 * @param itlNanos gaps between consecutive content chunks
 */
public record RequestOutcome(long sentNanos, long ttftNanos, long e2eNanos, int promptTokens, int outputTokens,
    long[] itlNanos, String error, String detail) {
  public boolean ok() {
    return error == null;
  }

  static RequestOutcome failed(long sentNanos, long e2eNanos, String error, String detail) {
    return new RequestOutcome(sentNanos, -1, e2eNanos, -1, 0, new long[0], error, detail);
  }
}
