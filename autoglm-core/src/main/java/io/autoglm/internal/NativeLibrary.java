package io.autoglm.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.WeakHashMap;
import java.util.function.Consumer;

/**
 * Loads a JNI library that a backend packs into its jar (the {@code cpu-native} and CUDA backends): the resource is
 * copied to a temp file, which {@code System.load} maps. A load that fails returns its reason instead of throwing,
 * so that the backend's provider can say why it is unavailable, and deletes its temp file; a loaded library's file
 * stays until the JVM exits.
 *
 * <p>{@code System.load} binds a library to the class loader of its caller, so the backend passes the call itself,
 * written in its own class: {@code path -> System.load(path)}. Each resource is loaded at most once per class
 * loader (JNI's own unit), however many threads ask at once: later calls return the first call's outcome.
 */
public final class NativeLibrary {
  /** Outcomes per class loader and resource; weak keys, so that a dropped class loader is not kept. */
  private static final Map<ClassLoader, Map<String, Optional<String>>> LOADED = new WeakHashMap<>();

  /** Opens a library's bytes; null when there are none. */
  @FunctionalInterface
  interface Source {
    InputStream open() throws IOException;
  }

  private NativeLibrary() {}

  /** True on Linux, the only OS the native backends are built for. */
  public static boolean isLinux() {
    return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
  }

  /** The CPU architecture as the jars name it: {@code x86_64}, {@code aarch64}, else {@code os.arch} lower-cased. */
  public static String arch() {
    String a = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (a.equals("amd64") || a.equals("x86_64")) {
      return "x86_64";
    }
    return a.equals("aarch64") || a.equals("arm64") ? "aarch64" : a;
  }

  /**
   * Loads {@code resource} (an absolute resource path ending in {@code .so}) from {@code owner}'s jar.
   *
   * @param systemLoad {@code path -> System.load(path)}, written in {@code owner}
   * @param absent what the missing library means, e.g. {@code "autoglm-x was built without its native library"}
   * @param absentCause why it would be missing, e.g. {@code "nvcc was missing at build time"}
   * @return empty once loaded; otherwise the reason, which names the resource: {@code absent (RESOURCE is not in
   *     the jar: absentCause)} or {@code cannot load RESOURCE: what the copy or the dynamic linker said}
   * @throws IllegalArgumentException for a resource that is not an absolute path to a {@code .so}
   */
  public static Optional<String> load(Class<?> owner, String resource, Consumer<String> systemLoad, String absent,
      String absentCause) {
    Objects.requireNonNull(owner, "owner");
    return load(owner.getClassLoader(), resource, () -> owner.getResourceAsStream(resource), systemLoad, absent,
        absentCause, null);
  }

  /** As above, from {@code source}, keyed on {@code scope}, with the temp file in {@code dir} (null: the default). */
  static Optional<String> load(ClassLoader scope, String resource, Source source, Consumer<String> systemLoad,
      String absent, String absentCause, Path dir) {
    String prefix = tempPrefix(resource);
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(systemLoad, "systemLoad");
    Objects.requireNonNull(absent, "absent");
    Objects.requireNonNull(absentCause, "absentCause");
    synchronized (LOADED) { // loads are rare and short: one lock keeps "at most once" simple
      Map<String, Optional<String>> done = LOADED.computeIfAbsent(scope, k -> new HashMap<>());
      Optional<String> outcome = done.get(resource);
      if (outcome == null) {
        outcome = extractAndLoad(resource, prefix, source, systemLoad, absent, absentCause, dir);
        done.put(resource, outcome);
      }
      return outcome;
    }
  }

  private static Optional<String> extractAndLoad(String resource, String prefix, Source source,
      Consumer<String> systemLoad, String absent, String absentCause, Path dir) {
    try (InputStream in = source.open()) {
      if (in == null) {
        return Optional.of(absent + " (" + resource + " is not in the jar: " + absentCause + ")");
      }
      Path file = dir == null ? Files.createTempFile(prefix, ".so") : Files.createTempFile(dir, prefix, ".so");
      try {
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        systemLoad.accept(file.toString());
      } catch (Throwable e) { // rethrown as it came: only the temp file is dealt with here
        try {
          Files.deleteIfExists(file);
        } catch (IOException x) {
          e.addSuppressed(x);
        }
        throw e;
      }
      file.toFile().deleteOnExit();
      return Optional.empty();
    } catch (IOException | UnsatisfiedLinkError e) {
      return Optional.of("cannot load " + resource + ": " + e.getMessage());
    }
  }

  /** {@code libx} of {@code /a/b/libx.so}; refuses anything that is not an absolute path to a {@code .so}. */
  private static String tempPrefix(String resource) {
    Objects.requireNonNull(resource, "resource");
    String name = resource.substring(resource.lastIndexOf('/') + 1);
    if (!resource.startsWith("/") || !name.endsWith(".so") || name.length() == ".so".length()) {
      throw new IllegalArgumentException("native library resource '" + resource
          + "': expected an absolute resource path to a .so file, like /native/linux-x86_64/libname.so");
    }
    return name.substring(0, name.length() - ".so".length());
  }
}
