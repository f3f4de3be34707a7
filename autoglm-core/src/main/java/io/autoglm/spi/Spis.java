package io.autoglm.spi;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * Finds an SPI implementation on the class path ({@code META-INF/services/<interface name>}).
 *
 * <p>Order of precedence for the engine: what the builder was given, then the highest {@link Rank} found here, then
 * the no-op default. Only the chosen provider is instantiated; two providers sharing the highest rank are an error,
 * since picking one silently would depend on class path order.
 */
public final class Spis {

  /** A provider's priority when several implement one SPI; higher wins. Providers without it rank 0. */
  @Documented
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.TYPE)
  public @interface Rank {
    int value();
  }

  private Spis() {}

  /**
   * The highest-ranked implementation of {@code type} visible to the thread's context class loader (else this
   * library's), or {@code fallback} when there is none.
   *
   * @throws IllegalStateException when two providers share the highest rank, or a provider cannot be loaded
   */
  public static <T> T load(Class<T> type, T fallback) {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    return load(type, fallback, loader != null ? loader : Spis.class.getClassLoader());
  }

  static <T> T load(Class<T> type, T fallback, ClassLoader loader) {
    Objects.requireNonNull(type, "type must not be null");
    Objects.requireNonNull(fallback, "fallback must not be null");
    List<ServiceLoader.Provider<T>> providers = new ArrayList<>();
    try {
      ServiceLoader.load(type, loader).stream().forEach(providers::add);
    } catch (ServiceConfigurationError e) {
      throw new IllegalStateException("cannot list the " + type.getName() + " providers: " + e.getMessage(), e);
    }
    if (providers.isEmpty()) {
      return fallback;
    }
    providers.sort(Comparator.comparingInt((ServiceLoader.Provider<T> p) -> rank(p)).reversed());
    int top = rank(providers.get(0));
    List<ServiceLoader.Provider<T>> best = providers.stream().filter(p -> rank(p) == top).collect(Collectors.toList());
    if (best.size() > 1) {
      throw new IllegalStateException(String.format(
          "%d implementations of %s share the highest rank %d (%s): give one a higher @Spis.Rank, or pass one to "
              + "the builder", best.size(), type.getName(), top,
          best.stream().map(p -> p.type().getName()).sorted().collect(Collectors.joining(", "))));
    }
    try {
      return best.get(0).get();
    } catch (ServiceConfigurationError e) {
      throw new IllegalStateException(String.format("cannot instantiate %s for %s: %s",
          best.get(0).type().getName(), type.getName(), e.getMessage()), e);
    }
  }

  private static int rank(ServiceLoader.Provider<?> provider) {
    Rank rank = provider.type().getAnnotation(Rank.class);
    return rank == null ? 0 : rank.value();
  }
}
