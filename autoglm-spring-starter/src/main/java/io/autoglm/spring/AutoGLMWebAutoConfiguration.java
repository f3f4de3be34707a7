package io.autoglm.spring;

import static org.springframework.web.servlet.function.RequestPredicates.GET;
import static org.springframework.web.servlet.function.RequestPredicates.HEAD;
import static org.springframework.web.servlet.function.RequestPredicates.path;

import io.micrometer.observation.ObservationRegistry;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;
import org.springframework.web.servlet.function.HandlerFunction;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * The OpenAI-compatible HTTP API on Spring MVC: a servlet web application with an {@link AutoGLMProvider}, unless
 * {@code autoglm.server.enabled=false}. Beans: the routes ({@code autoglmOpenAiRoutes}; define a
 * {@code RouterFunction} bean of that name to replace them), the body-limit and API-key servlet filters, the
 * disconnect watcher, and an OpenAI-shaped error page (unless the application has its own {@link ErrorController}).
 */
@AutoConfiguration(after = AutoGLMAutoConfiguration.class,
    beforeName = "org.springframework.boot.webmvc.autoconfigure.error.ErrorMvcAutoConfiguration")
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass(RouterFunction.class)
@ConditionalOnBean(AutoGLMProvider.class)
@ConditionalOnBooleanProperty(name = "autoglm.server.enabled", matchIfMissing = true)
public class AutoGLMWebAutoConfiguration {
  private static final Logger LOG = LoggerFactory.getLogger(AutoGLMWebAutoConfiguration.class);
  /** Before Spring Security (-100) and the form-content filter (-9900), after the observation filter (+1). */
  private static final int BODY_FILTER_ORDER = Ordered.HIGHEST_PRECEDENCE + 20;

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  DisconnectWatcher autoglmDisconnectWatcher(AutoGLMProperties properties) {
    return new DisconnectWatcher(properties.server().disconnectCheckInterval());
  }

  @Bean
  @ConditionalOnMissingBean(name = "autoglmOpenAiRoutes")
  RouterFunction<ServerResponse> autoglmOpenAiRoutes(AutoGLMProvider provider, AutoGLMProperties properties,
      DisconnectWatcher watcher, ObjectProvider<ObservationRegistry> observations) {
    OpenAiHandlers h = new OpenAiHandlers(provider, properties.server(), watcher,
        observations.getIfUnique(() -> ObservationRegistry.NOOP));
    return RouterFunctions.route()
        .POST("/v1/chat/completions", h::chatCompletions)
        .POST("/v1/completions", h::completions)
        .route(GET("/v1/models").or(HEAD("/v1/models")), h::models)
        .route(GET("/v1/models/{id}").or(HEAD("/v1/models/{id}")), h::model)
        .route(path("/v1/chat/completions").or(path("/v1/completions")), notAllowed("POST"))
        .route(path("/v1/models").or(path("/v1/models/{id}")), notAllowed("GET, HEAD"))
        .route(path("/v1/**"), r -> OpenAiException.notFound(r.method().name(), r.path()).toResponse())
        .onError(Exception.class, (e, request) -> OpenAiException.from(e).toResponse())
        .build();
  }

  private static HandlerFunction<ServerResponse> notAllowed(String allow) {
    return r -> OpenAiException.methodNotAllowed(r.method().name(), r.path(), allow).toResponse();
  }

  @Bean
  @ConditionalOnMissingBean(name = "autoglmRequestBodyFilter")
  FilterRegistrationBean<RequestBodyFilter> autoglmRequestBodyFilter(AutoGLMProperties properties) {
    FilterRegistrationBean<RequestBodyFilter> r =
        new FilterRegistrationBean<>(new RequestBodyFilter(properties.server().maxRequestBody()));
    r.addUrlPatterns("/v1/*");
    r.setOrder(BODY_FILTER_ORDER);
    return r;
  }

  @Bean
  @ConditionalOnMissingBean(name = "autoglmApiKeyFilter")
  FilterRegistrationBean<ApiKeyFilter> autoglmApiKeyFilter(AutoGLMProperties properties, Environment env) {
    Optional<String> actuator = Optional.empty();
    if (properties.server().actuatorProtected(properties.apiKeys())) {
      String base = env.getProperty("management.endpoints.web.base-path", "/actuator").replaceAll("/+$", "");
      if (base.isEmpty()) {
        LOG.warn("the actuator is mapped at the root path: autoglm.server.protect-actuator cannot single it out, "
            + "so it stays open; give management.endpoints.web.base-path a path of its own to protect it");
      } else {
        actuator = Optional.of(base);
      }
    }
    FilterRegistrationBean<ApiKeyFilter> r =
        new FilterRegistrationBean<>(new ApiKeyFilter(properties.apiKeys(), actuator));
    r.addUrlPatterns("/v1/*");
    actuator.ifPresent(base -> r.addUrlPatterns(base, base + "/*"));
    r.setOrder(BODY_FILTER_ORDER + 1);
    r.setEnabled(!properties.apiKeys().isEmpty());
    return r;
  }

  /** With Micrometer Tracing on the class path: the {@code traceparent} response header. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "io.micrometer.tracing.Tracer")
  static class Tracing {
    @Bean
    @ConditionalOnMissingBean(name = "autoglmTraceparentFilter")
    FilterRegistrationBean<TraceparentFilter> autoglmTraceparentFilter(
        ObjectProvider<io.micrometer.tracing.Tracer> tracer) {
      FilterRegistrationBean<TraceparentFilter> r = new FilterRegistrationBean<>(new TraceparentFilter(tracer));
      r.addUrlPatterns("/*");
      r.setOrder(BODY_FILTER_ORDER - 1); // inside the observation filter, whose span it reports
      return r;
    }
  }

  /** OpenAI-shaped errors for every path; an application's own error controller wins. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(ErrorController.class)
  @ConditionalOnMissingBean(ErrorController.class)
  static class ErrorPage {
    @Bean
    OpenAiErrorController autoglmErrorController() {
      return new OpenAiErrorController();
    }
  }
}
