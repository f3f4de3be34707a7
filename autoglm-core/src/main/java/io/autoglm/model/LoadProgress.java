package io.autoglm.model;

/** Told as each decoder layer's weights reach the backend, so long loads can report progress. */
@FunctionalInterface
public interface LoadProgress {
  void layerLoaded(int done, int total);

  static LoadProgress none() {
    return (done, total) -> {};
  }
}
