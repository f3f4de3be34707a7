package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.autoglm.model.ModelConfig;
import org.junit.jupiter.api.Test;

/** The step activation estimate, worked by hand for the glm-tiny fixture's shapes. */
class StepSizeTest {
  @Test
  void denseEstimateCountsEveryLayersActivationsAndTheSampledLogits() {
    // glm-tiny: hidden 64, intermediate 160, 3 layers, 4 heads over 2 KV heads of 16, vocabulary 384.
    // q/k/v width (4 + 2 x 2) x 16 = 128; per token and layer 2 bytes x (6 x 64 + 2 x 128 + 3 x 160) = 2,240;
    // 3 layers: 6,720 a token; 100 tokens: 672,000; fp32 logits of min(100, 8) rows: 4 x 384 x 8 = 12,288.
    ModelConfig c = ModelConfig.load(Fixtures.model("glm-tiny"));
    assertEquals(684_288L, StepSize.activationBytes(c, 100, 8));
  }
}
