package io.autoglm.backend;

/**
 * The experts chosen for each token of a step and their weights, as {@link ForwardStep#route} leaves them on the
 * backend for {@link ForwardStep#moe}: conceptually ids (T, topK) and weights (T, topK) fp32. A GPU may also keep
 * the tokens already sorted by expert here.
 */
public interface ExpertRouting {
  int numTokens();

  int topK();
}
