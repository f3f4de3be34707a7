package io.autoglm.examples.ai;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.service.AiServices;
import io.autoglm.AutoGLM;
import io.autoglm.langchain4j.AutoGLMChatModel;
import java.nio.file.Path;

/**
 * LangChain4j's AiServices on an in-process GLM: the model must call the weather tool once (tool choice REQUIRED),
 * then answers with a {@link Forecast} that constrained decoding keeps valid under the record's JSON schema.
 * Run: {@code LangChain4jExample MODEL_DIR [TOKENIZER_DIR]}.
 */
public final class LangChain4jExample {
  public enum City { PARIS, BERLIN, TOKYO }

  /** LangChain4j derives optional properties unless told: the grammar then may leave them out. */
  public record Forecast(@JsonProperty(required = true) City city,
      @JsonProperty(required = true) long temperatureCelsius, @JsonProperty(required = true) boolean sunny) {}

  interface Forecaster {
    Forecast forecast(String question);
  }

  /** The tool the model calls; counts its calls. */
  public static final class Weather {
    public int calls;

    @Tool("The current temperature of a city, in degrees Celsius")
    public int temperature(City city) {
      calls++;
      return city == City.TOKYO ? 26 : 21;
    }
  }

  private LangChain4jExample() {}

  /** Asks once; {@code weather} records the tool's calls. */
  public static Forecast forecast(AutoGLM glm, Weather weather) {
    AutoGLMChatModel model = AutoGLMChatModel.builder().autoGLM(glm)
        .toolChoice(ToolChoice.REQUIRED).temperature(0.7).seed(42L).maxTokens(128).build();
    Forecaster forecaster = AiServices.builder(Forecaster.class).chatModel(model).tools(weather).build();
    return forecaster.forecast("What is the weather in Paris?");
  }

  public static void main(String[] args) {
    AutoGLM.Builder b = AutoGLM.builder().modelPath(Path.of(args[0]));
    if (args.length > 1) {
      b.tokenizerPath(Path.of(args[1]));
    }
    try (AutoGLM glm = b.build()) {
      Weather weather = new Weather();
      Forecast f = forecast(glm, weather);
      System.out.println(f + " (tool calls: " + weather.calls + ")");
    }
  }
}
