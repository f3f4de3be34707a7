package io.autoglm.backend;

/** A handle to a tensor that lives on a {@link ComputeBackend}: the caller never sees its memory. */
public interface Tensor {
  /** Dimensions, outermost first. */
  long[] shape();
}
