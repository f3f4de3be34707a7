package io.autoglm.sched;

/** Told of each step and each preemption (metrics). Called on the engine thread. */
public interface EngineObserver {
  void onStep(int running, int waiting, double kvUsage, int batchTokens);

  void onPreemption(Sequence seq);

  void onAdmitted(Sequence seq, int cachedTokens);

  static EngineObserver none() {
    return new EngineObserver() {
      @Override
      public void onStep(int running, int waiting, double kvUsage, int batchTokens) {}

      @Override
      public void onPreemption(Sequence seq) {}

      @Override
      public void onAdmitted(Sequence seq, int cachedTokens) {}
    };
  }
}
