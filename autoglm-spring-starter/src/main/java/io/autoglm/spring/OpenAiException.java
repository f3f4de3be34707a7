package io.autoglm.spring;

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

  static OpenAiException notFound(String path) {
    return new OpenAiException(404, "invalid_request_error", null, "not_found", "No route for " + path, Map.of());
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

  /** Maps what the engine throws at submit time; anything unknown is a 500. */
  static OpenAiException from(Throwable t) {
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

  ServerResponse toResponse() {
    ServerResponse.BodyBuilder b = ServerResponse.status(status).contentType(MediaType.APPLICATION_JSON);
    headers.forEach(b::header);
    return b.body(Json.bytes(body()));
  }
}
