package io.autoglm.examples;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import java.nio.file.Path;
import java.util.List;

/** The README's quick start: load a checkpoint folder and chat with it. */
public final class QuickStart {
  private QuickStart() {}

  public static void main(String[] args) {
    // README quick start begins
    try (AutoGLM glm = AutoGLM.builder().modelPath(Path.of(args[0])).build()) {
      GenerationResult r = glm.chat(ChatPrompt.of(List.of(ChatMessage.user("Hello!"))),
          SamplingParams.builder().maxNewTokens(64).temperature(0.7).seed(42).build());
      System.out.println(r.text() + " [" + r.finishReason().openAiName() + "]");
    }
    // README quick start ends
  }
}
