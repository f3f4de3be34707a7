package io.autoglm.spring;

import io.autoglm.internal.EngineAccess;
import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TextRequest;
import io.autoglm.tokenizer.ChatTemplate;
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

  OpenAiHandlers(AutoGLMProvider provider, AutoGLMProperties.Server server, DisconnectWatcher watcher) {
    this.provider = provider;
    this.server = server;
    this.watcher = watcher;
  }

  ServerResponse chatCompletions(ServerRequest request) throws Exception {
    return generate(request, true);
  }

  ServerResponse completions(ServerRequest request) throws Exception {
    return generate(request, false);
  }

  ServerResponse models(ServerRequest request) {
    AutoGLM glm = ready();
    return json(Map.of("object", "list", "data", List.of(model(glm))));
  }

  ServerResponse model(ServerRequest request) {
    AutoGLM glm = ready();
    String id = request.pathVariable("id");
    if (!id.equals(glm.modelId())) {
      throw OpenAiException.modelNotFound(id);
    }
    return json(model(glm));
  }

  private Map<String, Object> model(AutoGLM glm) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", glm.modelId());
    m.put("object", "model");
    m.put("created", startedSeconds);
    m.put("owned_by", "autoglm");
    m.put("max_model_len", glm.stats().maxModelLen());
    return m;
  }

  private ServerResponse generate(ServerRequest request, boolean chat) throws Exception {
    AutoGLM glm = ready();
    int maxModelLen = glm.stats().maxModelLen();
    OpenAiRequestParser parser = new OpenAiRequestParser(server.defaultTemperature(), server.maxChoices(),
        Math.min(server.defaultMaxTokens(), Math.max(1, maxModelLen - 1)), forms(glm));
    OpenAiRequest r = chat ? parser.chat(Json.object(request.body(byte[].class)))
        : parser.completion(Json.object(request.body(byte[].class)));
    if (r.model().isPresent() && !r.model().get().equals(glm.modelId())) {
      throw OpenAiException.modelNotFound(r.model().get());
    }
    List<GenerationHandle> handles = submit(glm, r.textRequests(caller(request, r),
        Optional.ofNullable(server.requestTimeout())), chat ? "messages" : "prompt");
    OpenAiResponses format = new OpenAiResponses((chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID(),
        System.currentTimeMillis() / 1000, glm.modelId(), chat, r.includeUsage(), r.parsing(), r.parallelToolCalls());
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

  /** The engine, or a 503 that says why there is none yet. */
  private AutoGLM ready() {
    return switch (provider.state()) {
      case READY -> provider.get().orElseThrow();
      case LOADING -> throw OpenAiException.unavailable("model_loading", "The model is still loading; retry shortly",
          Duration.ofSeconds(5));
      case FAILED -> throw OpenAiException.unavailable("model_load_failed", "The model failed to load: "
          + provider.failure().map(Throwable::getMessage).orElse("unknown error"), Duration.ofSeconds(60));
      case DRAINING, CLOSED -> throw OpenAiException.unavailable("shutting_down", "The server is shutting down",
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
