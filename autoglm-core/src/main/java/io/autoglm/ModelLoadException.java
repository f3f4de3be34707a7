package io.autoglm;

/**
 * A checkpoint, its config or its tokenizer could not be loaded. The message names the file, the tensor or the
 * field, and the expected against the actual value.
 */
public class ModelLoadException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ModelLoadException(String message) {
    super(message);
  }

  public ModelLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
