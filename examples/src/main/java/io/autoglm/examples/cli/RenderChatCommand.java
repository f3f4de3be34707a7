package io.autoglm.examples.cli;

import io.autoglm.ModelLoadException;
import io.autoglm.ChatPrompt;
import io.autoglm.tokenizer.ChatTemplate;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code render-chat --model DIR --input CASE.json}: the model's chat template applied to a case, nothing else. */
@Command(name = "render-chat", mixinStandardHelpOptions = true,
    description = "Render a chat case {messages, tools, kwargs} with the model's own chat template; "
        + "print only the text.")
public final class RenderChatCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR",
      description = "Folder with chat_template.jinja or a tokenizer_config.json with 'chat_template'.")
  Path model;

  @Option(names = "--input", required = true, paramLabel = "CASE.json",
      description = "{messages, tools, kwargs}; the assistant turn is opened unless the last message is the "
          + "assistant's or kwargs.add_generation_prompt says otherwise.")
  Path input;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try {
      ChatPrompt prompt = ChatPrompt.fromJson(Files.readString(input));
      out.print(ChatTemplate.load(model).render(prompt));
      out.flush();
      return 0;
    } catch (IOException e) {
      spec.commandLine().getErr().println("render-chat: cannot read " + input + ": " + e.getMessage());
    } catch (IllegalArgumentException | IllegalStateException | ModelLoadException e) {
      spec.commandLine().getErr().println("render-chat: " + e.getMessage());
    }
    return 1;
  }
}
