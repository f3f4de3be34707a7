package io.autoglm.examples.spring;

import io.prometheus.metrics.tracer.common.SpanContext;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;

/**
 * An OpenAI-compatible GLM server: the AutoGLM starter does everything, configured in application.yml.
 *
 * <pre>
 * java -jar examples/spring-app/target/autoglm-spring-app.jar --autoglm.model-path=/models/glm-4-9b-chat-hf
 * curl localhost:8080/v1/chat/completions -H 'Content-Type: application/json' \
 *   -d '{"messages": [{"role": "user", "content": "Hello"}], "stream": true}'
 * </pre>
 */
@SpringBootApplication
public class GlmServerApplication {
  public static void main(String[] args) {
    SpringApplication.run(GlmServerApplication.class, args);
  }

  /**
   * No exemplars on /actuator/prometheus unless {@code app.metrics.exemplars=true}: with tracing on, Boot attaches
   * trace ids to every timer's {@code _count}, which Prometheus before 2.43 (Debian 12 ships 2.42) rejects, failing
   * the whole scrape ("metric name ..._count does not support exemplars"). Taking Boot's place as the span context
   * that exemplars are read from, this one reports no sampled span, so none is written.
   */
  @Bean
  @ConditionalOnProperty(name = "app.metrics.exemplars", havingValue = "false", matchIfMissing = true)
  SpanContext noPrometheusExemplars() {
    return new SpanContext() {
      @Override
      public String getCurrentTraceId() {
        return null;
      }

      @Override
      public String getCurrentSpanId() {
        return null;
      }

      @Override
      public boolean isCurrentSpanSampled() {
        return false;
      }

      @Override
      public void markCurrentSpanAsExemplar() {}
    };
  }
}
