package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The public surface, read from the compiled module descriptor: the public top-level types of the packages exported
 * to everyone number at most 25, and they are exactly the ones docs/api.md lists (so the docs cannot go stale).
 */
class ApiSurfaceTest {
  private static final int MAX_EXPORTED_TYPES = 25;

  @Test
  void exportedPublicTypesAreFewAndDocumented() throws Exception {
    Path classes = Path.of(AutoGLM.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    ModuleDescriptor module;
    try (InputStream in = Files.newInputStream(classes.resolve("module-info.class"))) {
      module = ModuleDescriptor.read(in);
    }
    assertEquals("io.autoglm.core", module.name());
    Set<String> exported = new TreeSet<>();
    for (ModuleDescriptor.Exports e : module.exports()) {
      if (!e.isQualified()) {
        exported.addAll(publicTopLevelTypes(classes, e.source()));
      }
    }
    assertTrue(exported.size() <= MAX_EXPORTED_TYPES, "exported public top-level types: " + exported.size()
        + ", expected <= " + MAX_EXPORTED_TYPES + ": " + exported);
    assertEquals(documented(), exported, "docs/api.md's list of exported types");
  }

  @Test
  void internalPackagesAreNotExportedToEveryone() throws Exception {
    Path classes = Path.of(AutoGLM.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    try (InputStream in = Files.newInputStream(classes.resolve("module-info.class"))) {
      Set<String> open = new TreeSet<>();
      ModuleDescriptor.read(in).exports().stream().filter(e -> !e.isQualified())
          .forEach(e -> open.add(e.source()));
      assertEquals(Set.of("io.autoglm", "io.autoglm.spi", "io.autoglm.toolcall"), open);
    }
  }

  private static Set<String> publicTopLevelTypes(Path classes, String pkg) throws Exception {
    Set<String> names = new TreeSet<>();
    try (Stream<Path> files = Files.list(classes.resolve(pkg.replace('.', '/')))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String file = f.getFileName().toString();
        if (file.endsWith(".class") && !file.contains("$") && !file.equals("package-info.class")) {
          Class<?> c = Class.forName(pkg + "." + file.substring(0, file.length() - 6), false,
              ApiSurfaceTest.class.getClassLoader());
          if (Modifier.isPublic(c.getModifiers())) {
            names.add(c.getName());
          }
        }
      }
    }
    return names;
  }

  /** The fully qualified names in docs/api.md between its exported-types markers. */
  private static Set<String> documented() throws IOException {
    String doc = Files.readString(Path.of(System.getProperty("autoglm.root", ".."), "docs", "api.md"));
    int from = doc.indexOf("<!-- exported-types:start -->");
    int to = doc.indexOf("<!-- exported-types:end -->");
    assertTrue(from >= 0 && to > from, "docs/api.md lacks the exported-types markers");
    Set<String> names = new TreeSet<>();
    Matcher m = Pattern.compile("`(io\\.autoglm[\\w.]*\\.[A-Z]\\w*)`").matcher(doc.substring(from, to));
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }
}
