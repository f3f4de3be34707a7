package smoke;

import io.autoglm.AutoGLM;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import java.nio.file.Path;
import java.util.List;

public final class Main {
  public static void main(String[] args) {
    try (AutoGLM glm = AutoGLM.builder().modelPath(Path.of(args[0])).tokenizerPath(Path.of(args[1])).kvBlocks(64)
        .build()) {
      String rendered = glm.tokenizer().renderChat(ChatPrompt.of(List.of(ChatMessage.user("Hello!"))));
      System.out.println("chat template rendered: " + rendered.replace("\n", "\\n"));
      GenerationResult r = glm.generate(List.of(1, 2, 3), SamplingParams.greedy(4));
      System.out.println("module " + AutoGLM.class.getModule().getName() + " backend " + glm.backendName()
          + " tokens " + r.tokenIds() + " " + r.finishReason());
    }
  }
}
