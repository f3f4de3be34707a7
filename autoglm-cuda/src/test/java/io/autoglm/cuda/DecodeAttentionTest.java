package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Which steps take the tensor-core decode attention (cuda.decodeAttnTc); runs without a GPU. */
class DecodeAttentionTest {
  @Test
  void offAtZeroForEveryShape() {
    for (int rows : new int[] {1, 64, 256, 4096}) {
      assertFalse(DecodeAttention.useTensorCores(0, rows, 32, 2, 128, 1, false), "rows " + rows);
    }
  }

  @Test
  void theThresholdCountsRowsTimesKvHeads() {
    // glm-4-9b: 2 KV heads, so threshold 128 is batch 64 and up
    assertTrue(DecodeAttention.useTensorCores(128, 64, 32, 2, 128, 4, false));
    assertFalse(DecodeAttention.useTensorCores(128, 63, 32, 2, 128, 4, false));
    assertTrue(DecodeAttention.useTensorCores(128, 16, 96, 8, 128, 4, false), "16 rows × 8 KV heads");
    assertTrue(DecodeAttention.useTensorCores(1, 1, 32, 2, 128, 1, false), "forced on");
    // no int overflow at the largest threshold and row counts
    assertTrue(DecodeAttention.useTensorCores(CudaSettings.MAX_DECODE_ATTN_TC, 1 << 20, 32, 2, 128, 1, false));
  }

  @Test
  void stepsWithPrefillSegmentsKeepTheMixedLauncher() {
    assertFalse(DecodeAttention.useTensorCores(1, 256, 32, 2, 128, 1, true));
  }

  @Test
  void onlyTheShapesTheKernelServes() {
    assertTrue(DecodeAttention.useTensorCores(1, 64, 32, 2, 64, 1, false), "headDim 64");
    for (int headDim : new int[] {16, 32, 80, 96, 256}) {
      assertFalse(DecodeAttention.useTensorCores(1, 64, 32, 2, headDim, 1, false), "headDim " + headDim);
    }
    assertFalse(DecodeAttention.useTensorCores(1, 64, 33, 2, 128, 1, false), "query heads not a multiple");
    assertTrue(DecodeAttention.useTensorCores(1, 64, 192, 2, 128, 1, false), "96 per KV head");
    assertTrue(DecodeAttention.useTensorCores(1, 4, 32, 2, 128, DecodeAttention.MAX_TC_SPLITS, false));
    assertFalse(DecodeAttention.useTensorCores(1, 4, 32, 2, 128, DecodeAttention.MAX_TC_SPLITS + 1, false));
  }

  @Test
  void everyGraphStepHasFewEnoughSplits() {
    for (int phys = 1; phys <= 256; phys++) {
      for (int kvHeads = 1; kvHeads <= 8; kvHeads++) {
        int splits = CudaForwardStep.graphSplits(phys, kvHeads);
        assertTrue(splits >= 1 && splits <= DecodeAttention.MAX_TC_SPLITS, phys + " × " + kvHeads + ": " + splits);
      }
    }
  }

  @Test
  void theTensorCoreGraphTargetAppliesOnlyAtOrAboveTheThreshold() {
    try {
      DecodeAttention.tcGraphBlocks = 0; // unset: the decode kernels' splits everywhere
      for (int phys : new int[] {1, 8, 64, 256}) {
        assertEquals(CudaForwardStep.graphSplits(phys, 2), DecodeAttention.graphSplits(128, phys, 2), "phys " + phys);
      }
      DecodeAttention.tcGraphBlocks = 1536;
      assertEquals(3, DecodeAttention.graphSplits(128, 256, 2), "256 rows × 2 KV heads: 1536 / 512");
      assertEquals(12, DecodeAttention.graphSplits(128, 64, 2), "64 rows × 2 KV heads: 1536 / 128");
      assertEquals(CudaForwardStep.graphSplits(32, 2), DecodeAttention.graphSplits(128, 32, 2), "below the threshold");
      assertEquals(CudaForwardStep.graphSplits(64, 2), DecodeAttention.graphSplits(0, 64, 2), "the kernel off");
      assertEquals(DecodeAttention.MAX_TC_SPLITS, DecodeAttention.graphSplits(1, 1, 1), "capped at the kernel's limit");
      DecodeAttention.tcGraphBlocks = 100;
      assertEquals(1, DecodeAttention.graphSplits(1, 256, 2), "at least one split");
    } finally {
      DecodeAttention.tcGraphBlocks = DecodeAttention.DEFAULT_TC_GRAPH_BLOCKS;
    }
  }

  @Test
  void theSplitLimitIsTheNativeOne() throws Exception {
    String header = Files.readString(Path.of("src/main/native/attention_decode_tc.cuh"));
    Matcher m = Pattern.compile("constexpr int DECODE_TC_MAX_SPLITS = (\\d+);").matcher(header);
    assertTrue(m.find(), "attention_decode_tc.cuh declares DECODE_TC_MAX_SPLITS");
    assertEquals(Integer.parseInt(m.group(1)), DecodeAttention.MAX_TC_SPLITS);
  }
}
