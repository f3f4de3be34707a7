package io.autoglm.spring;

import io.micrometer.tracing.Span;
import io.micrometer.tracing.TraceContext;
import io.micrometer.tracing.Tracer;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Returns the W3C {@code traceparent} of the request's server span as a response header, before the handler runs
 * (a stream commits its headers early): {@code 00-TRACE_ID-SPAN_ID-FLAGS}. The trace id is the caller's when it
 * sent a {@code traceparent} (the tracer continues that trace), else a new one. Without a tracer bean it does
 * nothing.
 */
final class TraceparentFilter extends OncePerRequestFilter {
  static final String HEADER = "traceparent";
  private final ObjectProvider<Tracer> tracer;

  TraceparentFilter(ObjectProvider<Tracer> tracer) {
    this.tracer = tracer;
  }

  @Override
  protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    Tracer t = tracer.getIfUnique();
    Span span = t == null ? null : t.currentSpan();
    if (span != null && !span.isNoop()) {
      TraceContext c = span.context();
      response.setHeader(HEADER, "00-" + c.traceId() + "-" + c.spanId() + "-"
          + (Boolean.TRUE.equals(c.sampled()) ? "01" : "00"));
    }
    chain.doFilter(request, response);
  }
}
