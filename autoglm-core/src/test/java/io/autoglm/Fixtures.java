package io.autoglm;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the shared fixtures are: the surefire property, or ../../shared/fixtures from the module folder. */
public final class Fixtures {
  private Fixtures() {}

  public static Path root() {
    Path p = Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"));
    if (!Files.isDirectory(p)) {
      p = Path.of("../../shared/fixtures");
    }
    return p.toAbsolutePath().normalize();
  }

  public static Path model(String name) {
    return root().resolve("models").resolve(name);
  }
}
