package io.autoglm.spring;

import io.autoglm.internal.EngineAccess;
import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.ModelRegistry;
import io.autoglm.ModelRegistry;
import io.autoglm.TextRequest;
import io.autoglm.tokenizer.ChatTemplate;
import io.micrometer.observation.ObservationRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.springframework.http.MediaType;
import org.springframework.web.servlet.function.ServerRequest;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * The OpenAI-compatible endpoints: {@code POST /v1/chat/completions}, {@code POST /v1/completions},
 * {@code GET /v1/models} and {@code GET /v1/models/{id}}. Errors at submit time (bad field, unknown model, rate
 * limit, full queue, model not ready) answer with their status before any byte of the stream.
 */
final class OpenAiHandlers {
  /** The request attribute {@link ApiKeyFilter} sets to the caller's key id. */
  static final String CALLER_ATTRIBUTE = OpenAiHandlers.class.getName() + ".caller";

  private final AutoGLMProvider provider;
  private final AutoGLMProperties.Server server;
  private final DisconnectWatcher watcher;
  private final long startedSeconds = System.currentTimeMillis() / 1000;
  private volatile Map.Entry<ChatTemplate, ChatTemplateForms> forms; // the last template probed, and its forms

  private final ObservationRegistry observations;

  OpenAiHandlers(AutoGLMProvider provider, AutoGLMProperties.Server server, DisconnectWatcher watcher,
      ObservationRegistry observations) {
    this.provider = provider;
    this.server = server;
    this.watcher = watcher;
    this.observations = observations;
  }

  ServerResponse chatCompletions(ServerRequest request) throws Exception {
    return generate(request, true);
  }

  ServerResponse completions(ServerRequest request) throws Exception {
    return generate(request, false);
  }

  /**
   * Every model instance: the serving one, one loading beside it during a swap ({@code status: loading}), one
   * draining after it, and the served name when it differs from the serving id.
   */
  ServerResponse models(ServerRequest request) {
    AutoGLM glm = ready();
    return json(Map.of("object", "list", "data", modelEntries(glm)));
  }

  ServerResponse model(ServerRequest request) {
    AutoGLM glm = ready();
    String id = request.pathVariable("id");
    return json(modelEntries(glm).stream().filter(m -> m.get("id").equals(id)).findFirst()
        .orElseThrow(() -> OpenAiException.modelNotFound(id)));
  }

  private List<Map<String, Object>> modelEntries(AutoGLM serving) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (ModelRegistry.Status s : provider.models()) {
      if (s.state() == ModelRegistry.Status.State.FAILED) {
        continue;
      }
      Map<String, Object> m = entry(s.modelId());
      m.put("status", s.state().name().toLowerCase(java.util.Locale.ROOT));
      if (s.state() == ModelRegistry.Status.State.SERVING) {
        m.put("max_model_len", serving.stats().maxModelLen());
      }
      out.add(m);
    }
    provider.servedName().filter(n -> out.stream().noneMatch(m -> m.get("id").equals(n))).ifPresent(n -> {
      Map<String, Object> m = entry(n);
      m.put("status", "serving");
      m.put("root", serving.modelId());
      m.put("max_model_len", serving.stats().maxModelLen());
      out.add(0, m);
    });
    return out;
  }

  private Map<String, Object> entry(String id) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", id);
    m.put("object", "model");
    m.put("created", startedSeconds);
    m.put("owned_by", "autoglm");
    return m;
  }

  /** A request may name the serving instance's id or the served name. */
  private boolean serves(AutoGLM glm, String model) {
    return model.equals(glm.modelId()) || provider.servedName().map(model::equals).orElse(false);
  }

  private ServerResponse generate(ServerRequest request, boolean chat) throws Exception {
    RequestObservation observation = RequestObservation.start(observations, chat ? "chat" : "text_completion");
    ModelRegistry.Lease lease;
    try {
      lease = lease();
    } catch (RuntimeException e) {
      observation.failed(e);
      throw e;
    }
    try {
      return generate(request, chat, lease, observation);
    } catch (Exception | Error e) {
      lease.close();
      observation.failed(e);
      throw e;
    }
  }

  /** Everything on the leased engine; the lease ends with the last choice, so a swap never closes it mid-way. */
  private ServerResponse generate(ServerRequest request, boolean chat, ModelRegistry.Lease lease,
      RequestObservation observation) throws Exception {
    AutoGLM glm = lease.model();
    int maxModelLen = glm.stats().maxModelLen();
    OpenAiRequestParser parser = new OpenAiRequestParser(server.defaultTemperature(), server.maxChoices(),
        Math.min(server.defaultMaxTokens(), Math.max(1, maxModelLen - 1)), forms(glm));
    OpenAiRequest r = chat ? parser.chat(Json.object(request.body(byte[].class)))
        : parser.completion(Json.object(request.body(byte[].class)));
    if (r.model().isPresent() && !serves(glm, r.model().get())) {
      throw OpenAiException.modelNotFound(r.model().get());
    }
    int vocab = glm.tokenizer().vocabSize();
    for (int id : r.sampling().logitBias().keySet()) {
      if (id >= vocab) {
        throw OpenAiException.badRequest("logit_bias", "'logit_bias' names token id " + id + "; expected an id in "
            + "[0, " + vocab + ")");
      }
    }
    List<GenerationHandle> handles = submit(glm, r.textRequests(caller(request, r),
        Optional.ofNullable(server.requestTimeout())), chat ? "messages" : "prompt");
    lease.closeWhenDone(handles.stream().map(GenerationHandle::result).toList());
    observation.submitted(glm.modelId(), r.stream(), handles);
    OpenAiResponses format = new OpenAiResponses((chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID(),
        System.currentTimeMillis() / 1000, glm.modelId(), chat, r.includeUsage(), r.parsing(), r.parallelToolCalls(),
        r.sampling().logprobs().isPresent() ? Optional.of(new OpenAiLogprobs(glm.tokenizer()::tokenBytes))
            : Optional.empty());
    String echo = r.echo() ? r.prompt().orElse("") : "";
    if (r.stream()) {
      SseRelay relay = new SseRelay(request.servletRequest(), format, handles, echo);
      relay.watch(watcher);
      return ServerResponse.sse(relay::start, httpTimeout());
    }
    return ServerResponse.async(answer(request, handles, format, echo), httpTimeout());
  }

  /**
   * The whole answer once every choice is done. A failed choice fails the request (500, the others cancelled); a
   * client that hangs up first cancels every choice and ends the exchange at once.
   */
  private CompletableFuture<ServerResponse> answer(ServerRequest request, List<GenerationHandle> handles,
      OpenAiResponses format, String echo) {
    CompletableFuture<ServerResponse> answer = new CompletableFuture<>();
    DisconnectWatch watch = DisconnectWatch.start(request.servletRequest(), watcher, () -> {
      handles.forEach(GenerationHandle::cancel);
      answer.complete(OpenAiException.clientClosed().toResponse());
    });
    for (GenerationHandle h : handles) { // the first failed choice answers at once and cancels the rest
      h.result().whenComplete((r, e) -> {
        if (e != null || OpenAiResponses.failed(r)) {
          watch.stop();
          handles.forEach(GenerationHandle::cancel);
          answer.complete((e != null ? OpenAiException.engineFailure(e)
              : OpenAiException.choiceFailed(handles.indexOf(h), r)).toResponse());
        }
      });
    }
    CompletableFuture<?>[] all = handles.stream().map(GenerationHandle::result).toArray(CompletableFuture[]::new);
    CompletableFuture.allOf(all).thenRun(() -> {
      List<GenerationResult> results = handles.stream().map(h -> h.result().join()).toList();
      if (results.stream().noneMatch(OpenAiResponses::failed)) {
        watch.stop();
        answer.complete(json(format.answer(results, echo)));
      }
    });
    return answer;
  }

  /** The served template's forms, probed once per template (a reload brings a new one). */
  private ChatTemplateForms forms(AutoGLM glm) {
    Optional<ChatTemplate> template = EngineAccess.get().tokenizer(glm).chatTemplate();
    if (template.isEmpty()) {
      return ChatTemplateForms.OPENAI;
    }
    Map.Entry<ChatTemplate, ChatTemplateForms> known = forms;
    if (known == null || known.getKey() != template.get()) {
      known = Map.entry(template.get(), ChatTemplateForms.of(template));
      forms = known;
    }
    return known.getValue();
  }

  /** Submits every choice, or none: a rejection cancels the choices already submitted. */
  private static List<GenerationHandle> submit(AutoGLM glm, List<TextRequest> requests, String promptParam) {
    List<GenerationHandle> handles = new ArrayList<>();
    try {
      for (TextRequest t : requests) {
        handles.add(glm.submit(t));
      }
      return handles;
    } catch (RuntimeException e) {
      handles.forEach(GenerationHandle::cancel);
      throw OpenAiException.fromSubmit(e, promptParam);
    }
  }

  /** The rate-limit key: the API key's id, else the request's {@code user}, else the client address. */
  private static String caller(ServerRequest request, OpenAiRequest r) {
    Optional<Object> key = request.attribute(CALLER_ATTRIBUTE);
    if (key.isPresent()) {
      return key.get().toString();
    }
    if (r.user().isPresent() && !r.user().get().isBlank()) {
      return "user:" + r.user().get();
    }
    return "addr:" + request.remoteAddress().map(a -> a.getAddress().getHostAddress()).orElse("unknown");
  }

  /** The engine serving now, or a 503 that says why there is none yet. */
  private AutoGLM ready() {
    return switch (provider.state()) {
      case READY -> provider.get().orElseThrow(() -> notReady(AutoGLMProvider.State.LOADING));
      default -> throw notReady(provider.state());
    };
  }

  /** A hold on the serving engine for one exchange, or the 503 of {@link #ready()}. */
  private ModelRegistry.Lease lease() {
    if (provider.state() != AutoGLMProvider.State.READY) {
      throw notReady(provider.state());
    }
    try {
      return provider.lease();
    } catch (IllegalStateException e) {
      throw notReady(provider.state());
    }
  }

  private OpenAiException notReady(AutoGLMProvider.State state) {
    return switch (state) {
      case READY, LOADING -> OpenAiException.unavailable("model_loading", "The model is still loading; retry shortly",
          Duration.ofSeconds(5));
      case FAILED -> OpenAiException.unavailable("model_load_failed", "The model failed to load: "
          + provider.failure().map(Throwable::getMessage).orElse("unknown error"), Duration.ofSeconds(60));
      case DRAINING, CLOSED -> OpenAiException.unavailable("shutting_down", "The server is shutting down",
          Duration.ofSeconds(5));
    };
  }

  /** Past the engine's own request timeout, so a timed-out request still answers; none: no limit. */
  private Duration httpTimeout() {
    return server.requestTimeout() == null ? Duration.ZERO : server.requestTimeout().plusSeconds(30);
  }

  static ServerResponse json(Object body) {
    return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).body(Json.bytes(body));
  }
}
