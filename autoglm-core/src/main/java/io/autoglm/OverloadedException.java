package io.autoglm;

/** The engine's waiting queue is full; retry later. Nothing of the request was kept. */
public class OverloadedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public OverloadedException(String message) {
    super(message);
  }
}
