package io.autoglm.backend;

/** The paged KV cache storage of one model on one backend. Its slots are addressed as {@link KvLayout} says. */
public interface KvCache extends AutoCloseable {
  KvLayout layout();

  @Override
  void close();
}
