package io.autoglm.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code autoglm} command line: run, check and benchmark GLM checkpoints. */
@Command(
    name = "autoglm",
    mixinStandardHelpOptions = true,
    version = "AutoGLM 0.1.0-SNAPSHOT",
    description = "Run GLM-family models in the JVM.",
    subcommands = {
      VerifyCommand.class,
      InitRandomCommand.class,
      GenerateCommand.class,
      BenchCommand.class,
      BenchServeCommand.class,
      ChatCommand.class,
      TokenizeCommand.class,
      RenderChatCommand.class,
    })
public final class AutoGLMCli implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new AutoGLMCli()).execute(args));
  }
}
