package io.autoglm.examples.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

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
}
