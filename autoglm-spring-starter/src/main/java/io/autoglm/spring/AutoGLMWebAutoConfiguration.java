package io.autoglm.spring;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * The OpenAI-compatible HTTP API on Spring MVC: a servlet web application with an {@link AutoGLMProvider}, unless
 * {@code autoglm.server.enabled=false}. Define a {@code RouterFunction} bean named {@code autoglmOpenAiRoutes} to
 * replace it.
 */
@AutoConfiguration(after = AutoGLMAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass(RouterFunction.class)
@ConditionalOnBean(AutoGLMProvider.class)
@ConditionalOnBooleanProperty(name = "autoglm.server.enabled", matchIfMissing = true)
public class AutoGLMWebAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean(name = "autoglmOpenAiRoutes")
  RouterFunction<ServerResponse> autoglmOpenAiRoutes(AutoGLMProvider provider, AutoGLMProperties properties) {
    OpenAiHandlers h = new OpenAiHandlers(provider, properties.server());
    return RouterFunctions.route()
        .POST("/v1/chat/completions", h::chatCompletions)
        .POST("/v1/completions", h::completions)
        .GET("/v1/models", h::models)
        .GET("/v1/models/{id}", h::model)
        .filter(new ApiKeyFilter(properties.apiKeys()))
        .onError(Exception.class, (e, request) -> OpenAiException.from(e).toResponse())
        .build();
  }
}
