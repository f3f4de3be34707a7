package io.autoglm.sched;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Tells a sequence's listener of its end without letting the listener's own failure escape into the engine loop. */
final class Listeners {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);

  private Listeners() {}

  /** Calls a listener so that its failure cannot escape into the engine loop (it falls back to onError). */
  static void notify(Sequence s, java.util.function.Consumer<Sequence.Listener> call) {
    try {
      call.accept(s.listener());
    } catch (RuntimeException e) {
      LOG.error("the listener of request {} failed while being told of its end", s.id(), e);
      try {
        s.listener().onError(s, e);
      } catch (RuntimeException again) {
        LOG.error("the listener of request {} failed again; its caller may not hear of its end", s.id(), again);
      }
    }
  }

  /** Tells the listener that {@code seq} was admitted; a listener's failure here is only logged. */
  static void admitted(Sequence seq) {
    try {
      seq.listener().onAdmitted(); // tracing only: a failure here must not end the request
    } catch (RuntimeException e) {
      LOG.warn("the listener of request {} failed on admission", seq.id(), e);
    }
  }
}
