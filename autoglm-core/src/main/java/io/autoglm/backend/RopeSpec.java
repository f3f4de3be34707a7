package io.autoglm.backend;

/**
 * Rotary position embedding over the first {@code rotaryDim} channels of each head.
 *
 * @param interleaved true: channel pairs (2i, 2i+1) rotate together (GLM, GLM4); false: pairs (i, i + rotaryDim/2),
 *     the NeoX half-split layout (GLM4-MoE)
 */
public record RopeSpec(int headDim, int rotaryDim, double theta, boolean interleaved) {
  public RopeSpec {
    if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim) {
      throw new IllegalArgumentException(
          "rotaryDim (" + rotaryDim + ") must be even and in (0, headDim " + headDim + "]");
    }
  }

  /**
   * Inverse frequencies as transformers computes them in fp32: {@code 1 / theta^(2i / rotaryDim)}.
   */
  public float[] inverseFrequencies() {
    float[] inv = new float[rotaryDim / 2];
    for (int i = 0; i < inv.length; i++) {
      float exponent = (float) (2 * i) / rotaryDim;
      inv[i] = 1.0f / (float) Math.pow(theta, exponent);
    }
    return inv;
  }
}
