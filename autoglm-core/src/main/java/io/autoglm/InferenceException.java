package io.autoglm;

/**
 * A request failed inside the engine through no fault of its own: the forward step it was part of failed as a whole
 * (a backend error), or the engine thread stopped. Servers answer it as a server error (HTTP 500), never as a bad
 * request. The cause is the backend's exception.
 */
public final class InferenceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InferenceException(String message, Throwable cause) {
    super(message, cause);
  }
}
