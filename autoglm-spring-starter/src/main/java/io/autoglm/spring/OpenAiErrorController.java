package io.autoglm.spring;

import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.Map;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.RequestMapping;

/**
 * The application's error page in OpenAI's error shape, in place of Spring Boot's: an unknown path anywhere is a 404
 * {@code not_found}, a wrong method a 405 {@code method_not_allowed} (with the {@code Allow} header Spring set), and
 * any other error Spring MVC or the container sends its status with an OpenAI-shaped body. An application's own
 * {@code ErrorController} bean replaces this one.
 */
@Controller
@RequestMapping("${server.error.path:${error.path:/error}}")
final class OpenAiErrorController implements ErrorController {

  @RequestMapping
  public ResponseEntity<byte[]> error(HttpServletRequest request, HttpServletResponse response) {
    OpenAiException e = describe(request, response);
    ResponseEntity.BodyBuilder b = ResponseEntity.status(e.status()).contentType(MediaType.APPLICATION_JSON);
    e.headers().forEach(b::header);
    return b.body(Json.bytes(e.body()));
  }

  private static OpenAiException describe(HttpServletRequest request, HttpServletResponse response) {
    Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
    int status = code instanceof Integer i ? i : 500;
    Object uri = request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
    String path = uri != null ? uri.toString() : request.getRequestURI();
    String method = request.getMethod();
    return switch (status) {
      case 404 -> OpenAiException.notFound(method, path);
      case 405 -> OpenAiException.methodNotAllowed(method, path,
          response.getHeader(HttpHeaders.ALLOW) == null ? "another method" : response.getHeader(HttpHeaders.ALLOW));
      case 413 -> OpenAiException.payloadTooLarge("Request body too large for " + path);
      case 415 -> OpenAiException.unsupportedMediaType(String.valueOf(request.getContentType()));
      default -> new OpenAiException(status, status >= 500 ? "server_error" : "invalid_request_error", null, null,
          reason(status) + " (" + method + " " + path + ")", Map.of());
    };
  }

  private static String reason(int status) {
    HttpStatus s = HttpStatus.resolve(status);
    return s == null ? "HTTP " + status : s.value() + " " + s.getReasonPhrase();
  }
}
