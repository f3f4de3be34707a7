package io.autoglm.springai;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TextRequest;
import io.autoglm.TextRequest.OutputParsing;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.observation.ChatModelObservationContext;
import org.springframework.ai.chat.observation.ChatModelObservationConvention;
import org.springframework.ai.chat.observation.ChatModelObservationDocumentation;
import org.springframework.ai.chat.observation.DefaultChatModelObservationConvention;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.model.tool.ToolCallingManager;
import reactor.core.publisher.Flux;

/**
 * A Spring AI {@link ChatModel} answered in-process by an {@link AutoGLM} engine: requests join the engine's
 * continuous batch, with no network hop.
 *
 * <pre>{@code
 * ChatClient chat = ChatClient.builder(AutoGLMChatModel.builder().autoGLM(glm).build()).build();
 * String answer = chat.prompt("Hello!").call().content();
 * }</pre>
 *
 * <p>The model returns tool calls; ChatClient's tool-calling advisor runs them through Spring AI's
 * {@link ToolCallingManager} and calls again with the results (the model resolves its tool definitions through the
 * same manager). Each call and stream is a {@code gen_ai.client.operation} observation under the
 * {@link ChatModelObservationConvention} given (Spring AI's default otherwise), provider {@code autoglm}. A stream
 * whose subscriber cancels, and a call whose thread is interrupted, stop the request and free its KV blocks.
 */
public final class AutoGLMChatModel implements ChatModel {
  static final String PROVIDER = "autoglm";
  private static final ChatModelObservationConvention DEFAULT_CONVENTION = new DefaultChatModelObservationConvention();

  private final Supplier<Prompts> prompts;
  private final AutoGLMChatOptions defaults;
  private final ObservationRegistry observations;
  private final ChatModelObservationConvention convention;

  private AutoGLMChatModel(Builder b) {
    Supplier<AutoGLM> glm = Objects.requireNonNull(b.glm,
        "autoGLM is not set: call builder().autoGLM(glm) with a loaded engine");
    ToolCallingManager tools = b.tools != null ? b.tools : ToolCallingManager.builder().build();
    Optional<Duration> timeout = Optional.ofNullable(b.timeout);
    String user = b.user;
    this.prompts = new Supplier<>() {
      private volatile Prompts resolved;

      @Override
      public Prompts get() {
        if (resolved == null) {
          synchronized (this) {
            if (resolved == null) {
              resolved = Prompts.of(glm.get(), tools, timeout, user);
            }
          }
        }
        return resolved;
      }
    };
    this.defaults = b.defaults;
    this.observations = b.observations;
    this.convention = b.convention;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The defaults requests start from; ChatClient builds its requests' options from them. */
  @Override
  public AutoGLMChatOptions getOptions() {
    return defaults;
  }

  @Override
  public ChatResponse call(Prompt prompt) {
    Objects.requireNonNull(prompt, "prompt must not be null");
    Prompt request = merged(prompt);
    ChatModelObservationContext context = ChatModelObservationContext.builder().prompt(request).provider(PROVIDER)
        .build();
    return ChatModelObservationDocumentation.CHAT_MODEL_OPERATION
        .observation(convention, DEFAULT_CONVENTION, () -> context, observations)
        .observe(() -> {
          ChatResponse response = Responses.toChatResponse(await(submit(request)), modelId());
          context.setResponse(response);
          return response;
        });
  }

  @Override
  public Flux<ChatResponse> stream(Prompt prompt) {
    Objects.requireNonNull(prompt, "prompt must not be null");
    return Flux.defer(() -> {
      Prompt request = merged(prompt);
      ChatModelObservationContext context = ChatModelObservationContext.builder().prompt(request)
          .provider(PROVIDER).streaming(true).build();
      Observation observation = ChatModelObservationDocumentation.CHAT_MODEL_OPERATION
          .observation(convention, DEFAULT_CONVENTION, () -> context, observations).start();
      TextRequest text;
      GenerationHandle handle;
      try {
        text = prompts.get().toTextRequest(request, (AutoGLMChatOptions) request.getOptions());
        handle = submit(text);
      } catch (RuntimeException e) {
        observation.error(e);
        observation.stop();
        return Flux.error(e);
      }
      return Flux.<ChatResponse>create(sink -> handle.tokens().subscribe(new StreamRelay(handle, sink, modelId(),
              text.parsing() != OutputParsing.RAW)))
          .doOnNext(r -> {
            if (r.getMetadata().getUsage().getTotalTokens() > 0) {
              context.setResponse(r);
            }
          })
          .doOnError(observation::error)
          .doOnTerminate(observation::stop) // before the subscriber sees the end, so the observation is complete
          .doOnCancel(observation::stop);
    });
  }

  private String modelId() {
    return prompts.get().glm().modelId();
  }

  private Prompt merged(Prompt prompt) {
    ChatOptions given = prompt.getOptions();
    return new Prompt(prompt.getInstructions(), defaults.overriddenBy(given));
  }

  private GenerationHandle submit(Prompt request) {
    return submit(prompts.get().toTextRequest(request, (AutoGLMChatOptions) request.getOptions()));
  }

  private GenerationHandle submit(TextRequest text) {
    try {
      return prompts.get().glm().submit(text);
    } catch (RuntimeException e) {
      throw Responses.translate(e);
    }
  }

  private static GenerationResult await(GenerationHandle handle) {
    try {
      return handle.result().get();
    } catch (InterruptedException e) {
      handle.cancel();
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while waiting for request " + handle.requestId());
    } catch (ExecutionException e) {
      throw Responses.translate(e.getCause());
    }
  }

  /** Builds an {@link AutoGLMChatModel}; {@code build()} leaves the builder reusable. */
  public static final class Builder {
    private Supplier<AutoGLM> glm;
    private AutoGLMChatOptions defaults = AutoGLMChatOptions.builder().build();
    private ToolCallingManager tools;
    private ObservationRegistry observations = ObservationRegistry.NOOP;
    private ChatModelObservationConvention convention = DEFAULT_CONVENTION;
    private Duration timeout;
    private String user = "spring-ai";

    private Builder() {}

    /** The engine that answers; required. The model does not close it. */
    public Builder autoGLM(AutoGLM glm) {
      Objects.requireNonNull(glm, "autoGLM");
      this.glm = () -> glm;
      return this;
    }

    /** The engine, resolved at the first request (the starter loads the model in the background). */
    public Builder autoGLM(Supplier<AutoGLM> glm) {
      this.glm = Objects.requireNonNull(glm, "autoGLM");
      return this;
    }

    /** Defaults for every request; unset options take the engine's (greedy, 256 new tokens). */
    public Builder defaultOptions(AutoGLMChatOptions options) {
      this.defaults = Objects.requireNonNull(options, "defaultOptions");
      return this;
    }

    /** Resolves tool callbacks into definitions (default: Spring AI's {@code ToolCallingManager.builder()}). */
    public Builder toolCallingManager(ToolCallingManager manager) {
      this.tools = Objects.requireNonNull(manager, "toolCallingManager");
      return this;
    }

    public Builder observationRegistry(ObservationRegistry registry) {
      this.observations = Objects.requireNonNull(registry, "observationRegistry");
      return this;
    }

    public Builder observationConvention(ChatModelObservationConvention convention) {
      this.convention = Objects.requireNonNull(convention, "observationConvention");
      return this;
    }

    /** An engine-side deadline per request: past it the request stops and the call fails. */
    public Builder timeout(Duration timeout) {
      if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
        throw new IllegalArgumentException("timeout (" + timeout + ") must be positive");
      }
      this.timeout = timeout;
      return this;
    }

    /** The caller key the engine's rate limiter counts requests under (default {@code spring-ai}). */
    public Builder user(String user) {
      if (user == null || user.isBlank()) {
        throw new IllegalArgumentException("user must be a non-blank caller key, got '" + user + "'");
      }
      this.user = user;
      return this;
    }

    public AutoGLMChatModel build() {
      return new AutoGLMChatModel(this);
    }
  }
}
