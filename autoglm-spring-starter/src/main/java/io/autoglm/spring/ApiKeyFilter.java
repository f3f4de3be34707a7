package io.autoglm.spring;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;
import org.springframework.http.HttpHeaders;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Admits a request whose {@code Authorization: Bearer KEY} matches a configured key, and names the caller by the
 * key's position ({@code api-key-0}, ...) for rate limiting, so the key itself never reaches logs or meters. Keys are
 * compared in constant time. It guards the API's paths and, when {@code actuatorBase} is given, the actuator's
 * (all but {@code health} and {@code health/**}, which Kubernetes probes call without a key). The decision is made
 * on the container's decoded, normalised path, so {@code /actuator/health/../env} is the env endpoint's path.
 */
final class ApiKeyFilter extends OncePerRequestFilter {
  private static final String BEARER = "Bearer ";

  private final List<byte[]> keys;
  private final Optional<String> actuatorBase;

  /** @param actuatorBase the actuator's base path ({@code /actuator}) when the actuator is protected too */
  ApiKeyFilter(List<String> keys, Optional<String> actuatorBase) {
    this.keys = keys.stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
    this.actuatorBase = actuatorBase;
  }

  @Override
  protected boolean shouldNotFilter(HttpServletRequest request) {
    if (keys.isEmpty()) {
      return true;
    }
    String path = request.getServletPath() + (request.getPathInfo() == null ? "" : request.getPathInfo());
    if (path.equals("/v1") || path.startsWith("/v1/")) {
      return false;
    }
    if (actuatorBase.isEmpty() || !(path.equals(actuatorBase.get()) || path.startsWith(actuatorBase.get() + "/"))) {
      return true;
    }
    String health = actuatorBase.get() + "/health";
    return path.equals(health) || path.startsWith(health + "/");
  }

  @Override
  protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    String header = request.getHeader(HttpHeaders.AUTHORIZATION);
    if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      OpenAiException.unauthorized("You didn't provide an API key: send 'Authorization: Bearer YOUR_KEY'")
          .write(response);
      return;
    }
    byte[] given = header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8);
    int match = -1;
    for (int i = 0; i < keys.size(); i++) {
      if (MessageDigest.isEqual(keys.get(i), given) && match < 0) {
        match = i;
      }
    }
    if (match < 0) {
      OpenAiException.unauthorized("Incorrect API key provided").write(response);
      return;
    }
    request.setAttribute(OpenAiHandlers.CALLER_ATTRIBUTE, "api-key-" + match);
    chain.doFilter(request, response);
  }
}
