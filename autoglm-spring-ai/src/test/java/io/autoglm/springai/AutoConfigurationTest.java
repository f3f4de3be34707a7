package io.autoglm.springai;

import static org.assertj.core.api.Assertions.assertThat;

import io.autoglm.AutoGLM;
import io.autoglm.spring.AutoGLMAutoConfiguration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.model.tool.ToolCallingManager;
import org.springframework.ai.model.tool.ToolExecutionResult;
import org.springframework.ai.tool.definition.ToolDefinition;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The ChatModel appears exactly when an AutoGLM bean does, from the user or from the starter's properties. */
class AutoConfigurationTest {
  private final ApplicationContextRunner runner = new ApplicationContextRunner()
      .withConfiguration(AutoConfigurations.of(AutoGLMAutoConfiguration.class, AutoGLMSpringAiAutoConfiguration.class));

  @Configuration(proxyBeanMethods = false)
  static class UserEngine {
    @Bean(destroyMethod = "close")
    AutoGLM autoGLM() {
      return TestEngine.start();
    }
  }

  /** A ToolCallingManager that counts resolutions: the model must use the context's one. */
  @Configuration(proxyBeanMethods = false)
  static class CountingTools {
    static final AtomicInteger RESOLVED = new AtomicInteger();

    @Bean
    ToolCallingManager toolCallingManager() {
      ToolCallingManager real = ToolCallingManager.builder().build();
      return new ToolCallingManager() {
        @Override
        public java.util.List<ToolDefinition> resolveToolDefinitions(
            org.springframework.ai.model.tool.ToolCallingChatOptions options) {
          RESOLVED.incrementAndGet();
          return real.resolveToolDefinitions(options);
        }

        @Override
        public ToolExecutionResult executeToolCalls(Prompt prompt,
            org.springframework.ai.chat.model.ChatResponse response) {
          return real.executeToolCalls(prompt, response);
        }
      };
    }
  }

  @Test
  void noEngineNoChatModel() {
    runner.run(context -> assertThat(context).doesNotHaveBean(ChatModel.class));
  }

  @Test
  void theUsersEngineGetsAChatModelThatUsesTheContextsToolCallingManager() {
    runner.withUserConfiguration(UserEngine.class, CountingTools.class).run(context -> {
      assertThat(context).hasSingleBean(AutoGLMChatModel.class);
      int before = CountingTools.RESOLVED.get();
      String answer = context.getBean(ChatModel.class).call(new Prompt("Hello",
          AutoGLMChatOptions.builder().maxTokens(3).build())).getResult().getOutput().getText();
      assertThat(answer).isNotNull();
      assertThat(CountingTools.RESOLVED.get()).isEqualTo(before + 1);
    });
  }

  @Test
  void theStartersEngineFromPropertiesGetsAChatModel() {
    runner.withPropertyValues("autoglm.model-path=" + TestEngine.checkpointPath(),
        "autoglm.tokenizer-path=" + TestEngine.fixtures().resolve("tokenizers/glm-4-9b-chat-hf"),
        "autoglm.model-id=" + TestEngine.MODEL_ID, "autoglm.kv-blocks=64").run(context -> {
          assertThat(context).hasSingleBean(AutoGLMChatModel.class);
          var r = context.getBean(AutoGLMChatModel.class).call(new Prompt("Hello",
              AutoGLMChatOptions.builder().maxTokens(2).build()));
          assertThat(r.getMetadata().getModel()).isEqualTo(TestEngine.MODEL_ID);
          assertThat(r.getMetadata().getUsage().getCompletionTokens()).isBetween(1, 2);
        });
  }

  @Test
  void aUsersChatModelWins() {
    runner.withUserConfiguration(UserEngine.class).withBean("mine", AutoGLMChatModel.class,
        () -> AutoGLMChatModel.builder().autoGLM(() -> {
          throw new IllegalStateException("never resolved");
        }).build()).run(context -> assertThat(context).getBeanNames(AutoGLMChatModel.class).containsExactly("mine"));
  }
}
