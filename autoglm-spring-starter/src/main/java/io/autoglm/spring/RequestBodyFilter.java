package io.autoglm.spring;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Locale;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.util.unit.DataSize;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses, before reading them, the request bodies the API will not read: a body larger than
 * {@code autoglm.server.max-request-body} is a 413, from its Content-Length up front or, for a chunked body, as soon
 * as the bytes read pass the limit; a body whose Content-Type is not JSON is a 415. A request without a
 * Content-Type is read as JSON (as curl without {@code -H} would otherwise get a 415 for a JSON body it never
 * labelled). Applies to the API's paths ({@code /v1/*}).
 */
final class RequestBodyFilter extends OncePerRequestFilter {
  private final long maxBytes;

  RequestBodyFilter(DataSize maxRequestBody) {
    this.maxBytes = maxRequestBody.toBytes();
  }

  @Override
  protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    long declared = request.getContentLengthLong();
    if (declared > maxBytes) {
      tooLarge("Content-Length " + declared).write(response);
      return;
    }
    String type = request.getContentType();
    if (type != null && hasBody(request, declared) && !isJson(type)) {
      OpenAiException.unsupportedMediaType(type).write(response);
      return;
    }
    chain.doFilter(new Bounded(request), response);
  }

  private OpenAiException tooLarge(String what) {
    return OpenAiException.payloadTooLarge("Request body too large: " + what + " bytes is over the limit of "
        + maxBytes + " bytes (autoglm.server.max-request-body)");
  }

  private static boolean hasBody(HttpServletRequest request, long declared) {
    return declared > 0 || request.getHeader("Transfer-Encoding") != null;
  }

  private static boolean isJson(String contentType) {
    try {
      MediaType t = MediaType.parseMediaType(contentType);
      String subtype = t.getSubtype().toLowerCase(Locale.ROOT);
      return t.getType().equalsIgnoreCase("application") && (subtype.equals("json") || subtype.endsWith("+json"));
    } catch (InvalidMediaTypeException e) {
      return false;
    }
  }

  /** The request with an input stream that stops at the limit. */
  private final class Bounded extends HttpServletRequestWrapper {
    private ServletInputStream in;

    Bounded(HttpServletRequest request) {
      super(request);
    }

    @Override
    public ServletInputStream getInputStream() throws IOException {
      if (in == null) {
        in = new Counting(super.getInputStream());
      }
      return in;
    }
  }

  /** Counts the bytes read and throws a 413 once they pass the limit: at most limit + 1 bytes are read. */
  private final class Counting extends ServletInputStream {
    private final ServletInputStream in;
    private long read;

    Counting(ServletInputStream in) {
      this.in = in;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        count(1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, (int) Math.min(len, maxBytes - read + 1));
      if (n > 0) {
        count(n);
      }
      return n;
    }

    private void count(int n) {
      read += n;
      if (read > maxBytes) {
        throw tooLarge("more than " + maxBytes);
      }
    }

    @Override
    public int available() throws IOException {
      return in.available();
    }

    @Override
    public boolean isFinished() {
      return in.isFinished();
    }

    @Override
    public boolean isReady() {
      return in.isReady();
    }

    @Override
    public void setReadListener(ReadListener listener) {
      in.setReadListener(listener);
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
