package io.autoglm.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import io.autoglm.GenerationHandle;
import io.autoglm.TextRequest;
import java.util.List;
import java.util.Set;

/**
 * What {@link AutoGLMChatModel} and {@link AutoGLMStreamingChatModel} share: the engine's request mapping, the
 * default parameters and listeners from the builder, the model's description to LangChain4j, and the submission of
 * a mapped request. Each subclass only waits for the result its own way.
 */
abstract class EngineChatModel {
  private final ChatRequests requests;
  private final AutoGLMChatRequestParameters defaults;
  private final List<ChatModelListener> listeners;

  /** A request as submitted: the text request it became and the engine's handle on it. */
  record Submitted(TextRequest text, GenerationHandle handle) {}

  EngineChatModel(ModelBuilder<?> b) {
    this.requests = b.requests();
    this.defaults = b.defaults();
    this.listeners = b.listenerList();
  }

  /**
   * Maps {@code request} (the defaults already merged in by LangChain4j) and submits it; a refusal, of the
   * parameters or by the engine (overload, rate limit), is thrown as LangChain4j's exception for it.
   */
  final Submitted submit(ChatRequest request) {
    try {
      TextRequest text = requests.toTextRequest(request);
      return new Submitted(text, requests.glm().submit(text));
    } catch (RuntimeException e) {
      throw ChatResponses.translate(e);
    }
  }

  /** The model name responses carry: the engine's model id. */
  final String modelName() {
    return requests.glm().modelId();
  }

  public ChatRequestParameters defaultRequestParameters() {
    return defaults;
  }

  public List<ChatModelListener> listeners() {
    return listeners;
  }

  public ModelProvider provider() {
    return ModelProvider.OTHER;
  }

  /** JSON schema response formats are enforced by constrained decoding, so AiServices sends them. */
  public Set<Capability> supportedCapabilities() {
    return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
  }
}
