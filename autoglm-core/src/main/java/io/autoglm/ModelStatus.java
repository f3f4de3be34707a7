package io.autoglm;

import java.util.Optional;

/**
 * One model instance a {@link ModelRegistry} knows of, for {@code /v1/models} and health.
 *
 * @param name the registry name requests use
 * @param modelId the instance's own id ({@link AutoGLM#modelId()}; while loading, the id it was announced with)
 * @param state where the instance is
 * @param inFlight requests leased on it now
 * @param error why the last load under this name failed (state {@link State#FAILED})
 */
public record ModelStatus(String name, String modelId, State state, int inFlight, Optional<String> error) {

  /** The life of one instance under a name. */
  public enum State {
    /** Being loaded beside the serving instance (or as the first one). */
    LOADING,
    /** Takes new requests. */
    SERVING,
    /** Replaced: finishes the requests it holds, then closes. */
    DRAINING,
    /** The last load failed; the serving instance, if any, goes on. */
    FAILED
  }
}
