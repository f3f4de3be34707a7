package io.autoglm.examples.cli.serve;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A distribution of lengths (prompt words, output tokens), parsed from a command-line spec: {@code N} (always N),
 * {@code uniform:A:B} (A to B inclusive) or {@code normal:MEAN:SD} (rounded, at least 1).
 */
public sealed interface LengthDistribution {
  /** One length, at least 1. */
  int sample(SplittableRandom random);

  /** Always the same length. */
  record Fixed(int length) implements LengthDistribution {
    @Override
    public int sample(SplittableRandom random) {
      return length;
    }
  }

  /** Uniform over {@code [min, max]}. */
  record Uniform(int min, int max) implements LengthDistribution {
    @Override
    public int sample(SplittableRandom random) {
      return random.nextInt(min, max + 1);
    }
  }

  /** Normal, rounded and clamped to at least 1. */
  record Normal(double mean, double sd) implements LengthDistribution {
    @Override
    public int sample(SplittableRandom random) {
      // Box-Muller from two uniforms of the seeded generator, so a run is reproducible.
      double u1 = 1 - random.nextDouble();
      double u2 = random.nextDouble();
      double z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      return (int) Math.max(1, Math.round(mean + sd * z));
    }
  }

  /**
   * Parses {@code spec} for the option {@code option}.
   *
   * @throws IllegalArgumentException naming the option, the spec and the expected forms
   */
  static LengthDistribution parse(String option, String spec) {
    String s = spec.trim().toLowerCase(Locale.ROOT);
    String[] parts = s.split(":", -1);
    try {
      if (parts.length == 1) {
        return new Fixed(positive(option, spec, Integer.parseInt(parts[0])));
      }
      if (parts.length == 3 && parts[0].equals("uniform")) {
        int min = positive(option, spec, Integer.parseInt(parts[1]));
        int max = positive(option, spec, Integer.parseInt(parts[2]));
        if (max < min) {
          throw new IllegalArgumentException(option + " " + spec + ": uniform max " + max + " is below min " + min);
        }
        return new Uniform(min, max);
      }
      if (parts.length == 3 && parts[0].equals("normal")) {
        double mean = Double.parseDouble(parts[1]);
        double sd = Double.parseDouble(parts[2]);
        if (!(mean >= 1) || !(sd >= 0) || Double.isInfinite(mean) || Double.isInfinite(sd)) {
          throw new IllegalArgumentException(option + " " + spec + ": expected a mean >= 1 and a standard deviation"
              + " >= 0, got mean " + parts[1] + " and sd " + parts[2]);
        }
        return new Normal(mean, sd);
      }
    } catch (NumberFormatException e) {
      // falls through to the message naming every accepted form
    }
    throw new IllegalArgumentException(option + " " + spec
        + ": expected N, uniform:MIN:MAX or normal:MEAN:SD (lengths are positive integers)");
  }

  private static int positive(String option, String spec, int n) {
    if (n < 1) {
      throw new IllegalArgumentException(option + " " + spec + ": lengths must be at least 1, got " + n);
    }
    return n;
  }
}
