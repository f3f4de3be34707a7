package io.autoglm.examples.cli;

import io.autoglm.ModelLoadException;
import io.autoglm.tokenizer.GlmTokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tokenize --model DIR TEXT...}: each text's ids as a JSON array on its own line, nothing added. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
    description = "Print each TEXT's token ids as a JSON array, one line per text (no template, no prefix).")
public final class TokenizeCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR",
      description = "Folder with tokenizer.json, or a tiktoken tokenizer.model + tokenizer_config.json.")
  Path model;

  @Parameters(arity = "1..*", paramLabel = "TEXT", description = "Texts to tokenize.")
  List<String> texts;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (GlmTokenizer tokenizer = GlmTokenizer.load(model)) {
      for (String text : texts) {
        out.println(jsonArray(tokenizer.encode(text)));
      }
    } catch (IllegalArgumentException | ModelLoadException e) {
      spec.commandLine().getErr().println("tokenize: " + e.getMessage());
      return 1;
    } finally {
      out.flush();
    }
    return 0;
  }

  static String jsonArray(int[] ids) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < ids.length; i++) {
      sb.append(i == 0 ? "" : ", ").append(ids[i]);
    }
    return sb.append(']').toString();
  }
}
