package io.autoglm.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared loader of the backends' JNI libraries, on a real shared object (the JDK's own tiny
 * {@code libsyslookup.so}, which has no JNI hooks) packed into a jar the test writes, and on a text file that the
 * dynamic linker refuses.
 */
class NativeLibraryTest {
  private static final Path SYSLOOKUP = Path.of(System.getProperty("java.home"), "lib", "libsyslookup.so");
  private static final String NOT_ELF = "/io/autoglm/internal/not-a-library.so";

  @TempDir Path dir;

  /** A fresh key per test: outcomes are remembered per class loader. */
  private static ClassLoader scope() {
    return new URLClassLoader(new URL[0], null);
  }

  private List<Path> tempFiles() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.toList();
    }
  }

  @Test
  void extractsAResourceFromAJarAndMapsIt(@TempDir Path jarDir) throws Exception {
    assumeTrue(NativeLibrary.isLinux() && Files.isRegularFile(SYSLOOKUP), "needs Linux and " + SYSLOOKUP);
    Path jar = jarDir.resolve("lib.jar");
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
      out.putNextEntry(new JarEntry("native/test/libsyslookup.so"));
      Files.copy(SYSLOOKUP, out);
    }
    List<String> loaded = new ArrayList<>();
    try (URLClassLoader jarLoader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
      Optional<String> outcome = NativeLibrary.load(jarLoader, "/native/test/libsyslookup.so",
          () -> jarLoader.getResourceAsStream("native/test/libsyslookup.so"), path -> {
            System.load(path);
            loaded.add(path);
          }, "absent", "cause", dir);
      assertEquals(Optional.empty(), outcome);
    }
    assertEquals(1, loaded.size());
    Path file = Path.of(loaded.get(0));
    assertEquals(List.of(file), tempFiles(), "one temp file, kept while the library is loaded");
    assertTrue(file.getFileName().toString().startsWith("libsyslookup"), file.toString());
    assertArrayEquals(Files.readAllBytes(SYSLOOKUP), Files.readAllBytes(file), "the jar entry, byte for byte");
    assertTrue(Files.readString(Path.of("/proc/self/maps")).contains(file.toString()),
        "the dynamic linker mapped " + file);
  }

  @Test
  void aMissingResourceNamesItselfAndTheCauseWithoutATempFile() throws Exception {
    AtomicInteger loads = new AtomicInteger();
    Optional<String> outcome = NativeLibrary.load(NativeLibraryTest.class, "/native/none/libabsent.so",
        path -> loads.incrementAndGet(), "autoglm-x was built without its native library", "no compiler");
    assertEquals(Optional.of("autoglm-x was built without its native library (/native/none/libabsent.so is not in"
        + " the jar: no compiler)"), outcome);
    assertEquals(0, loads.get());
    Optional<String> scoped = NativeLibrary.load(scope(), "/native/none/libabsent.so", () -> null,
        path -> loads.incrementAndGet(), "absent", "cause", dir);
    assertEquals(Optional.of("absent (/native/none/libabsent.so is not in the jar: cause)"), scoped);
    assertEquals(List.of(), tempFiles());
  }

  @Test
  void aFileTheLinkerRefusesIsReportedAndDeleted() throws Exception {
    assumeTrue(NativeLibrary.isLinux(), "the dynamic linker's message is Linux's");
    Optional<String> outcome = NativeLibrary.load(scope(), NOT_ELF,
        () -> NativeLibraryTest.class.getResourceAsStream(NOT_ELF), path -> System.load(path), "absent", "cause",
        dir);
    assertTrue(outcome.isPresent());
    assertTrue(outcome.get().startsWith("cannot load " + NOT_ELF + ": "), outcome.get());
    assertTrue(outcome.get().contains("ELF"), "the linker's reason: " + outcome.get());
    assertEquals(List.of(), tempFiles(), "the refused copy is deleted");
  }

  @Test
  void aCopyThatFailsHalfwayLeavesNoTempFile() throws Exception {
    InputStream broken = new FilterInputStream(new ByteArrayInputStream(new byte[100_000])) {
      private int reads;

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (++reads > 2) {
          throw new IOException("device gone");
        }
        return super.read(b, off, Math.min(len, 1000));
      }
    };
    AtomicInteger loads = new AtomicInteger();
    Optional<String> outcome = NativeLibrary.load(scope(), "/native/test/libbroken.so", () -> broken,
        path -> loads.incrementAndGet(), "absent", "cause", dir);
    assertEquals(Optional.of("cannot load /native/test/libbroken.so: device gone"), outcome);
    assertEquals(0, loads.get(), "nothing loaded from a partial copy");
    assertEquals(List.of(), tempFiles());
  }

  @Test
  void aLoadThatThrowsSomethingElsePropagatesAndLeavesNoTempFile() throws Exception {
    SecurityException denied = new SecurityException("loading denied");
    SecurityException thrown = assertThrows(SecurityException.class, () -> NativeLibrary.load(scope(),
        "/native/test/libdenied.so", () -> new ByteArrayInputStream(new byte[64]), path -> {
          throw denied;
        }, "absent", "cause", dir));
    assertSame(denied, thrown);
    assertEquals(List.of(), tempFiles());
  }

  @Test
  void resourcesThatAreNotAbsoluteSoPathsAreRefusedByName() {
    for (String bad : List.of("native/libx.so", "/native/libx.dll", "/native/", "/native/.so", "/libx.so.1")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NativeLibrary.load(scope(),
          bad, () -> null, path -> { }, "absent", "cause", dir), bad);
      assertEquals("native library resource '" + bad + "': expected an absolute resource path to a .so file, like"
          + " /native/linux-x86_64/libname.so", e.getMessage());
    }
  }

  @Test
  @Timeout(value = 1, unit = TimeUnit.MINUTES) // a hang guard, not a speed check
  void concurrentLoadsOfOneResourceExtractAndLoadOnce() throws Exception {
    int threads = 8;
    ClassLoader scope = scope();
    AtomicInteger opens = new AtomicInteger();
    List<String> loaded = new CopyOnWriteArrayList<>();
    Consumer<String> systemLoad = loaded::add;
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Optional<String>>> outcomes = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        outcomes.add(pool.submit(() -> {
          start.await();
          return NativeLibrary.load(scope, "/native/test/libonce.so", () -> {
            opens.incrementAndGet();
            return new ByteArrayInputStream(new byte[4096]);
          }, systemLoad, "absent", "cause", dir);
        }));
      }
      for (Future<Optional<String>> f : outcomes) {
        assertEquals(Optional.empty(), f.get());
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, opens.get(), "the resource is read once");
    assertEquals(1, loaded.size(), "and loaded once");
    assertEquals(List.of(Path.of(loaded.get(0))), tempFiles());
    NativeLibrary.load(scope(), "/native/test/libonce.so", () -> new ByteArrayInputStream(new byte[16]),
        systemLoad, "absent", "cause", dir);
    assertEquals(2, loaded.size(), "another class loader is another JNI namespace: it loads its own copy");
  }

  @Test
  void aFailureIsRememberedLikeASuccess() throws Exception {
    ClassLoader scope = scope();
    AtomicInteger opens = new AtomicInteger();
    NativeLibrary.Source none = () -> {
      opens.incrementAndGet();
      return null;
    };
    Optional<String> first = NativeLibrary.load(scope, "/native/test/libgone.so", none, path -> { }, "a", "b", dir);
    Optional<String> second = NativeLibrary.load(scope, "/native/test/libgone.so", none, path -> { }, "a", "b", dir);
    assertEquals(first, second);
    assertTrue(first.isPresent());
    assertEquals(1, opens.get());
  }
}
