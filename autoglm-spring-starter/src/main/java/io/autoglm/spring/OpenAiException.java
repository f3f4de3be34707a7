package io.autoglm.spring;

import io.autoglm.ContextLengthExceededException;
import io.autoglm.GenerationResult;
import io.autoglm.OverloadedException;
import io.autoglm.spi.RateLimitExceededException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * An HTTP error in OpenAI's shape, {@code {"error": {"message", "type", "param", "code"}}}, with its status and any
 * headers ({@code Retry-After}, {@code WWW-Authenticate}). Carries no stack trace: it is an answer, not a bug.
 */
final class OpenAiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String type;
  private final String param;
  private final String code;
  private final transient Map<String, String> headers;

  OpenAiException(int status, String type, String param, String code, String message, Map<String, String> headers) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
    this.headers = Map.copyOf(headers);
  }

  static OpenAiException badRequest(String param, String message) {
    return new OpenAiException(400, "invalid_request_error", param, null, message, Map.of());
  }

  static OpenAiException unsupported(String param, String message) {
    return new OpenAiException(400, "invalid_request_error", param, "unsupported_parameter", message, Map.of());
  }

  static OpenAiException unauthorized(String message) {
    return new OpenAiException(401, "invalid_request_error", null, "invalid_api_key", message,
        Map.of(HttpHeaders.WWW_AUTHENTICATE, "Bearer"));
  }

  static OpenAiException modelNotFound(String model) {
    return new OpenAiException(404, "invalid_request_error", "model", "model_not_found",
        "The model '" + model + "' does not exist", Map.of());
  }

  /** An unknown path, as OpenAI words it: {@code Invalid URL (GET /v1/foo)}. */
  static OpenAiException notFound(String method, String path) {
    return new OpenAiException(404, "invalid_request_error", null, "not_found",
        "Invalid URL (" + method + " " + path + ")", Map.of());
  }

  /** A known path asked with a method it does not serve; {@code allow} lists those it does (RFC 9110's Allow). */
  static OpenAiException methodNotAllowed(String method, String path, String allow) {
    return new OpenAiException(405, "invalid_request_error", null, "method_not_allowed",
        method + " is not allowed on " + path + "; use " + allow, Map.of(HttpHeaders.ALLOW, allow));
  }

  /** A body over the limit; the connection closes, so the unread rest of the body is never read. */
  static OpenAiException payloadTooLarge(String message) {
    return new OpenAiException(413, "invalid_request_error", null, "request_too_large", message,
        Map.of(HttpHeaders.CONNECTION, "close"));
  }

  static OpenAiException unsupportedMediaType(String contentType) {
    return new OpenAiException(415, "invalid_request_error", null, "unsupported_media_type",
        "Content-Type '" + contentType + "' is not supported: send the body as application/json", Map.of());
  }

  /** A prompt longer than the context: OpenAI's 400 {@code context_length_exceeded}, naming the prompt's field. */
  static OpenAiException contextLengthExceeded(String param, String message) {
    return new OpenAiException(400, "invalid_request_error", param, "context_length_exceeded", message, Map.of());
  }

  static OpenAiException unavailable(String code, String message, Duration retryAfter) {
    return new OpenAiException(503, "server_error", null, code, message,
        Map.of(HttpHeaders.RETRY_AFTER, seconds(retryAfter)));
  }

  static OpenAiException rateLimited(RateLimitExceededException e) {
    String type = e.limit().name().toLowerCase(Locale.ROOT);
    return new OpenAiException(429, type, null, "rate_limit_exceeded", e.getMessage(),
        Map.of(HttpHeaders.RETRY_AFTER, seconds(e.retryAfter())));
  }

  static OpenAiException internal(Throwable t) {
    return new OpenAiException(500, "server_error", null, null, "the request failed: " + t, Map.of());
  }

  /**
   * A request the engine accepted and then failed (a backend error, a failed step): always a 500
   * {@code server_error}, whatever the exception's type, since the request itself was valid.
   */
  static OpenAiException engineFailure(Throwable t) {
    Throwable cause = unwrap(t);
    return new OpenAiException(500, "server_error", null, "engine_error", "the request failed in the engine: "
        + (cause.getMessage() == null ? cause.toString() : cause.getMessage()), Map.of());
  }

  /** A stream the container timed out (past the engine's own request timeout): the last chunk says so. */
  static OpenAiException timedOut() {
    return new OpenAiException(504, "server_error", null, "timeout",
        "the response took longer than the server's time limit", Map.of());
  }

  /** A choice the engine ended alone with finish reason ERROR: the request is the server's failure, not the client's. */
  static OpenAiException choiceFailed(int index, GenerationResult result) {
    return new OpenAiException(500, "server_error", null, "engine_error", "choice " + index
        + " failed in the engine: " + result.error().orElse("no reason given"), Map.of());
  }

  /** The answer to a request whose client hung up before it: nobody reads it; 499 as nginx logs it. */
  static OpenAiException clientClosed() {
    return new OpenAiException(499, "invalid_request_error", null, "client_closed_request",
        "the client closed the connection before the answer", Map.of());
  }

  /**
   * Maps what the engine throws at submit time; anything unknown is a 500. {@code promptParam} names the field that
   * holds the prompt ({@code messages} or {@code prompt}) for a prompt longer than the context.
   */
  static OpenAiException fromSubmit(Throwable t, String promptParam) {
    Throwable cause = unwrap(t);
    if (cause instanceof ContextLengthExceededException e) {
      return contextLengthExceeded(promptParam, e.getMessage());
    }
    return from(cause);
  }

  /** Maps what the engine throws at submit time; anything unknown is a 500. */
  static OpenAiException from(Throwable t) {
    t = unwrap(t);
    if (t instanceof OpenAiException e) {
      return e;
    }
    if (t instanceof RateLimitExceededException e) {
      return rateLimited(e);
    }
    if (t instanceof OverloadedException e) {
      return unavailable("overloaded", e.getMessage(), Duration.ofSeconds(1));
    }
    if (t instanceof IllegalArgumentException e) {
      return badRequest(null, e.getMessage());
    }
    return internal(t);
  }

  /** The exception inside CompletionException / ExecutionException wrappers (and Spring's, for a body read). */
  static Throwable unwrap(Throwable t) {
    Throwable c = t;
    for (int depth = 0; depth < 8 && c.getCause() != null; depth++) {
      if (c instanceof OpenAiException) {
        return c;
      }
      if (!(c instanceof java.util.concurrent.CompletionException
          || c instanceof java.util.concurrent.ExecutionException
          || c instanceof org.springframework.http.converter.HttpMessageNotReadableException
          || c instanceof java.io.UncheckedIOException)) {
        return c;
      }
      c = c.getCause();
    }
    return c;
  }

  /** Retry-After is whole seconds (RFC 9110), rounded up so a client never retries too early. */
  private static String seconds(Duration d) {
    long ms = Math.max(0, d.toMillis());
    return Long.toString((ms + 999) / 1000);
  }

  int status() {
    return status;
  }

  Optional<String> param() {
    return Optional.ofNullable(param);
  }

  Map<String, String> headers() {
    return headers;
  }

  /** The body, {@code {"error": {...}}}; param and code are null when they do not apply. */
  Map<String, Object> body() {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("message", getMessage());
    error.put("type", type);
    error.put("param", param);
    error.put("code", code);
    return Map.of("error", error);
  }

  /** Writes this error to a servlet response that nothing was written to yet (servlet filters, the error page). */
  void write(jakarta.servlet.http.HttpServletResponse response) throws java.io.IOException {
    response.setStatus(status);
    response.setContentType(MediaType.APPLICATION_JSON_VALUE);
    headers.forEach(response::setHeader);
    byte[] bytes = Json.bytes(body());
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }

  ServerResponse toResponse() {
    ServerResponse.BodyBuilder b = ServerResponse.status(status).contentType(MediaType.APPLICATION_JSON);
    headers.forEach(b::header);
    return b.body(Json.bytes(body()));
  }
}
