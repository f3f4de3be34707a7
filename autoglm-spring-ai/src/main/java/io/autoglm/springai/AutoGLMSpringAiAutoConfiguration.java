package io.autoglm.springai;

import io.autoglm.AutoGLM;
import io.micrometer.observation.ObservationRegistry;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.observation.ChatModelObservationConvention;
import org.springframework.ai.model.tool.ToolCallingManager;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * An {@link AutoGLMChatModel} bean wherever the application has an {@link AutoGLM} bean (the starter makes one from
 * {@code autoglm.model-path}); a user's own {@code AutoGLMChatModel} wins. The engine is resolved at the first
 * request, so the application starts while the starter loads the model in the background. The model uses the
 * context's {@link ToolCallingManager}, {@link ObservationRegistry} and {@link ChatModelObservationConvention} when
 * there are (unique) ones.
 */
@AutoConfiguration(afterName = "io.autoglm.spring.AutoGLMAutoConfiguration")
@ConditionalOnClass({AutoGLM.class, ChatModel.class})
@ConditionalOnBean(AutoGLM.class)
public class AutoGLMSpringAiAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean
  AutoGLMChatModel autoGLMChatModel(ObjectProvider<AutoGLM> glm, ObjectProvider<ToolCallingManager> tools,
      ObjectProvider<ObservationRegistry> observations, ObjectProvider<ChatModelObservationConvention> convention) {
    AutoGLMChatModel.Builder b = AutoGLMChatModel.builder().autoGLM(glm::getObject);
    tools.ifUnique(b::toolCallingManager);
    observations.ifUnique(b::observationRegistry);
    convention.ifUnique(b::observationConvention);
    return b.build();
  }
}
