package io.autoglm.examples.ai;

import io.autoglm.AutoGLM;
import io.autoglm.springai.AutoGLMChatModel;
import io.autoglm.springai.AutoGLMChatOptions;
import java.nio.file.Path;
import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.tool.annotation.Tool;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.CommandLineRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/**
 * Spring AI's ChatClient on an in-process GLM: the application's {@link AutoGLM} bean (the starter makes one from
 * {@code autoglm.model-path}; here it is built directly) gets an auto-configured {@link AutoGLMChatModel}; the
 * client calls the weather tool (forced) and reads a {@link LangChain4jExample.Forecast}-shaped record.
 * Run: {@code SpringAiExample --model=MODEL_DIR [--tokenizer=TOKENIZER_DIR]}.
 */
@SpringBootApplication
public class SpringAiExample {
  public record Forecast(LangChain4jExample.City city, long temperatureCelsius, boolean sunny) {}

  /** The tool the model calls; counts its calls. */
  public static final class Weather {
    public int calls;

    @Tool(description = "The current temperature of a city, in degrees Celsius")
    public int temperature(LangChain4jExample.City city) {
      calls++;
      return 21;
    }
  }

  @Bean(destroyMethod = "close")
  AutoGLM autoGLM(@Value("${model}") Path model, @Value("${tokenizer:${model}}") Path tokenizer) {
    return AutoGLM.builder().modelPath(model).tokenizerPath(tokenizer).build();
  }

  /** Asks once through a ChatClient on {@code model}. */
  public static Forecast forecast(AutoGLMChatModel model, Weather weather) {
    ChatClient chat = ChatClient.builder(model).defaultAdvisors(AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT)
        .build();
    return chat.prompt().user("What is the weather in Paris?").tools(weather)
        .options(AutoGLMChatOptions.builder().toolChoice(AutoGLMChatOptions.ToolChoice.REQUIRED)
            .temperature(0.7).seed(42L).maxTokens(128))
        .call().entity(Forecast.class);
  }

  @Bean
  CommandLineRunner ask(AutoGLMChatModel model) {
    return args -> {
      Weather weather = new Weather();
      System.out.println(forecast(model, weather) + " (tool calls: " + weather.calls + ")");
    };
  }

  public static void main(String[] args) {
    SpringApplication.run(SpringAiExample.class, args).close();
  }
}
