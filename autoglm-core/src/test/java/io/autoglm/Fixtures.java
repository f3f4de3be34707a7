package io.autoglm;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the fixtures are: the shared ones (the surefire property, or ../../shared/fixtures from the module folder)
 * and core's own, in autoglm-core/src/test/resources/fixtures (made by tools/make_*.py).
 */
public final class Fixtures {
  private Fixtures() {}

  public static Path root() {
    Path p = Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"));
    if (!Files.isDirectory(p)) {
      p = Path.of("../../shared/fixtures");
    }
    return p.toAbsolutePath().normalize();
  }

  /**
   * A model fixture by name: this module's own if it has one of that name, else core's (from a sibling module such
   * as autoglm-testkit, whose engine-level tests read core's fixtures), else the shared one.
   */
  public static Path model(String name) {
    for (Path own : new Path[] {Path.of("src/test/resources/fixtures", name),
        Path.of("../autoglm-core/src/test/resources/fixtures", name)}) {
      if (Files.isDirectory(own)) {
        return own.toAbsolutePath().normalize();
      }
    }
    return root().resolve("models").resolve(name);
  }
}
