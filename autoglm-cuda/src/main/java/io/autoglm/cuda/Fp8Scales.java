package io.autoglm.cuda;

import java.util.List;

/**
 * The scales of an FP8 weight as the kernels address them: {@code W[r][c] = e4m3(Q[r][c]) ×
 * scales[(r >> rowShift) · scaleCols + (c >> colShift)]}, assembled from the parts of a (possibly fused) weight,
 * each with its own {@code [ceil(rows / blockRows)][ceil(cols / blockCols)]} scales
 * ({@link io.autoglm.safetensors.BlockScale}). Parts stacked along rows share one scale row per block when they all
 * have the same power-of-two block height and every part but the last fills whole blocks; otherwise every weight row
 * gets its own scale row ({@code rowShift} 0). Columns: the coarsest power-of-two granularity of at least 16 that
 * every part's block width is a multiple of ({@code colShift} 30 when every part has one scale per row).
 */
final class Fp8Scales {
  /** Per-row scales, or a block as wide as the row: the column shift that maps every column to scale column 0. */
  static final int WHOLE_ROW = 30;

  private Fp8Scales() {}

  /**
   * One part of a weight: {@code rows × cols} e4m3 values and their scales, row-major
   * {@code [ceil(rows / blockRows)][ceil(cols / blockCols)]}.
   */
  record Part(String name, int rows, int cols, int blockRows, int blockCols, float[] scales) {
    Part {
      if (rows < 1 || cols < 1 || blockRows < 1 || blockCols < 1) {
        throw new IllegalArgumentException(String.format("FP8 part %s: %d×%d in %d×%d blocks; expected positive sizes",
            name, rows, cols, blockRows, blockCols));
      }
      long expected = (long) ceil(rows, blockRows) * ceil(cols, blockCols);
      if (scales.length != expected) {
        throw new IllegalArgumentException(String.format("FP8 part %s: %d scales for %d×%d in %d×%d blocks; expected %d",
            name, scales.length, rows, cols, blockRows, blockCols, expected));
      }
    }

    float scale(int r, long c) {
      return scales[(r / blockRows) * ceil(cols, blockCols) + (int) (c / blockCols)];
    }
  }

  /** The kernels' view of the scales of a whole weight. */
  record Layout(float[] scales, int rowShift, int colShift, int scaleCols) {
    /** The scale of weight element (r, c), as the kernels look it up. */
    float scale(int r, int c) {
      return scales[(r >> rowShift) * scaleCols + (c >> colShift)];
    }
  }

  /** The scales of the parts stacked along rows (all of {@code cols} columns), as the kernels address them. */
  static Layout assemble(List<Part> parts) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("an FP8 weight needs at least one part, got none");
    }
    int cols = parts.get(0).cols();
    long totalRows = 0;
    long granularity = 0; // gcd of the block widths narrower than the row; 0: none
    for (Part p : parts) {
      if (p.cols() != cols) {
        throw new IllegalArgumentException(String.format("FP8 part %s has %d columns, the first part %d", p.name(),
            p.cols(), cols));
      }
      totalRows += p.rows();
      if (p.blockCols() < cols) {
        granularity = gcd(granularity, p.blockCols());
      }
    }
    int colShift = WHOLE_ROW;
    if (granularity != 0) {
      colShift = Long.numberOfTrailingZeros(granularity);
      if (colShift < 4) {
        throw new IllegalArgumentException(String.format("FP8 weight %s: scale blocks %s columns wide; the CUDA "
            + "kernels need block widths that are multiples of 16 (or one block per row)", parts.get(0).name(),
            parts.stream().map(p -> Integer.toString(p.blockCols())).toList()));
      }
    }
    int scaleCols = colShift == WHOLE_ROW ? 1 : ceil(cols, 1 << colShift);
    int br = parts.get(0).blockRows();
    boolean shared = Integer.bitCount(br) == 1;
    for (int i = 0; i < parts.size(); i++) {
      Part p = parts.get(i);
      shared &= p.blockRows() == br && (i == parts.size() - 1 || p.rows() % br == 0);
    }
    int rowShift = shared ? Integer.numberOfTrailingZeros(br) : 0;
    int step = 1 << rowShift; // weight rows per scale row
    long scaleRows = 0;
    for (Part p : parts) {
      scaleRows += ceil(p.rows(), step);
    }
    if (totalRows > Integer.MAX_VALUE || scaleRows * scaleCols > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(String.format("FP8 weight %s: %d rows, %d × %d scales is too large",
          parts.get(0).name(), totalRows, scaleRows, scaleCols));
    }
    float[] out = new float[(int) (scaleRows * scaleCols)];
    int at = 0;
    for (Part p : parts) {
      for (int r = 0; r < p.rows(); r += step) {
        for (int j = 0; j < scaleCols; j++) {
          out[at++] = p.scale(r, colShift == WHOLE_ROW ? 0 : (long) j << colShift);
        }
      }
    }
    return new Layout(out, rowShift, colShift, scaleCols);
  }

  /**
   * The layout with its scale rows padded to a multiple of 4 scales when it has 128×128 blocks: the pitch of
   * cuBLASLt's BLK128x128_32F scales (each block row's {@code ceil(cols / 128)} scales, rounded up to 4), which the
   * FP8 × FP8 GEMM reads as they are; every other kernel addresses scales through the pitch, and never reads the
   * padding (ones). Other layouts come back unchanged.
   */
  static Layout blockPitch(Layout l) {
    if (l.rowShift() != 7 || l.colShift() != 7 || l.scaleCols() % 4 == 0) {
      return l;
    }
    int pitch = (l.scaleCols() + 3) / 4 * 4;
    int rows = l.scales().length / l.scaleCols();
    float[] out = new float[rows * pitch];
    java.util.Arrays.fill(out, 1f);
    for (int r = 0; r < rows; r++) {
      System.arraycopy(l.scales(), r * l.scaleCols(), out, r * pitch, l.scaleCols());
    }
    return new Layout(out, l.rowShift(), l.colShift(), pitch);
  }

  static int ceil(int a, int b) {
    return (int) (((long) a + b - 1) / b);
  }

  private static long gcd(long a, long b) {
    return b == 0 ? a : gcd(b, a % b);
  }
}
