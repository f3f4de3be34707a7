package io.autoglm.examples.cli;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TextRequest;
import io.autoglm.TokenEvent;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** An interactive chat that streams each reply. */
@Command(name = "chat", mixinStandardHelpOptions = true,
    description = "Chat with the model; replies stream as they are generated. /reset clears the history, /exit quits.")
final class ChatCommand implements Callable<Integer> {
  @Mixin EngineOptions engine;
  @Mixin SamplingOptions sampling;

  @Option(names = "--system", description = "System prompt.")
  String system;

  @Override
  public Integer call() throws IOException {
    try (AutoGLM glm = engine.builder().build()) {
      List<ChatMessage> history = new ArrayList<>();
      if (system != null) {
        history.add(ChatMessage.system(system));
      }
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      while (true) {
        System.out.print("> ");
        System.out.flush();
        String line = in.readLine();
        if (line == null || line.equals("/exit")) {
          return 0;
        }
        if (line.equals("/reset")) {
          history.subList(system != null ? 1 : 0, history.size()).clear();
          continue;
        }
        if (line.isBlank()) {
          continue;
        }
        history.add(ChatMessage.user(line));
        GenerationHandle h = glm.submit(TextRequest.chat(ChatPrompt.of(history), sampling.params()));
        for (TokenEvent e : h.blockingTokens()) {
          System.out.print(e.text());
          System.out.flush();
        }
        GenerationResult r = h.result().join();
        System.out.println();
        System.err.printf("[%s, %d tokens]%n", r.finishReason().openAiName(), r.usage().completionTokens());
        history.add(ChatMessage.assistant(r.text()));
      }
    }
  }
}
