package io.autoglm.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The tokenize and render-chat commands print exactly the reference ids and texts, and nothing else. */
class TokenizerCommandsTest {
  private static Path tokenizers(String name) {
    return Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"), "tokenizers", name);
  }

  private record Run(int exitCode, String out, String err) {}

  private static Run run(Object command, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(command);
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void tokenizePrintsOneJsonArrayPerText() {
    Run r = run(new TokenizeCommand(), "--model", tokenizers("glm-4-9b-chat-hf").toString(),
        "An increasing sequence: one, two, three.", "你好", "<|user|> looks special but is text");
    assertEquals(0, r.exitCode(), r.err());
    assertEquals("[2082, 7703, 8499, 25, 825, 11, 1378, 11, 2326, 13]\n[109377]\n"
        + "[151336, 5868, 3281, 714, 374, 1467]\n", r.out().replace("\r\n", "\n"));
  }

  @Test
  void tokenizeWorksOnTheTiktokenFolder() {
    Run r = run(new TokenizeCommand(), "--model", tokenizers("glm-4-9b-chat").toString(), "你好");
    assertEquals("[109377]\n", r.out().replace("\r\n", "\n"));
  }

  @Test
  void tokenizeReportsAMissingTokenizer(@TempDir Path empty) {
    Run r = run(new TokenizeCommand(), "--model", empty.toString(), "x");
    assertEquals(1, r.exitCode());
    assertTrue(r.err().contains("no tokenizer in"), r.err());
    assertEquals("", r.out());
  }

  @Test
  void renderChatPrintsEveryGoldenCaseExactly(@TempDir Path tmp) throws IOException {
    JsonObject golden = JsonParser.parseString(Files.readString(tokenizers("glm-4.5").resolve("golden_chat.json")))
        .getAsJsonObject();
    for (JsonElement e : golden.getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      String name = c.get("name").getAsString();
      JsonObject caseJson = new JsonObject();
      caseJson.add("messages", c.get("messages"));
      caseJson.add("tools", c.get("tools"));
      caseJson.add("kwargs", c.get("kwargs"));
      Path file = Files.writeString(tmp.resolve(name + ".json"), caseJson.toString());
      Path model = tokenizers(name.startsWith("glm45-") ? "glm-4.5" : "glm-4-9b-chat");
      Run r = run(new RenderChatCommand(), "--model", model.toString(), "--input", file.toString());
      assertEquals(0, r.exitCode(), r.err());
      assertEquals(c.get("text").getAsString(), r.out(), name);
    }
  }
}
