package io.autoglm.spring;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import org.springframework.http.HttpHeaders;
import org.springframework.web.servlet.function.HandlerFilterFunction;
import org.springframework.web.servlet.function.HandlerFunction;
import org.springframework.web.servlet.function.ServerRequest;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * Admits a request whose {@code Authorization: Bearer KEY} matches a configured key, and names the caller by the
 * key's position ({@code api-key-0}, ...) for rate limiting, so the key itself never reaches logs or meters. With no
 * keys configured every request passes. Keys are compared in constant time.
 */
final class ApiKeyFilter implements HandlerFilterFunction<ServerResponse, ServerResponse> {
  private static final String BEARER = "Bearer ";

  private final List<byte[]> keys;

  ApiKeyFilter(List<String> keys) {
    this.keys = keys.stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
  }

  @Override
  public ServerResponse filter(ServerRequest request, HandlerFunction<ServerResponse> next) throws Exception {
    if (keys.isEmpty()) {
      return next.handle(request);
    }
    String header = request.headers().firstHeader(HttpHeaders.AUTHORIZATION);
    if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return OpenAiException.unauthorized("You didn't provide an API key: send 'Authorization: Bearer YOUR_KEY'")
          .toResponse();
    }
    byte[] given = header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8);
    int match = -1;
    for (int i = 0; i < keys.size(); i++) {
      if (MessageDigest.isEqual(keys.get(i), given) && match < 0) {
        match = i;
      }
    }
    if (match < 0) {
      return OpenAiException.unauthorized("Incorrect API key provided").toResponse();
    }
    request.attributes().put(OpenAiHandlers.CALLER_ATTRIBUTE, "api-key-" + match);
    return next.handle(request);
  }
}
