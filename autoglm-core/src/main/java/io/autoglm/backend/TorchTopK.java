package io.autoglm.backend;

/**
 * {@code torch.topk(row, k, largest=True, sorted=False)} on the CPU, index for index, ties included.
 *
 * <p>PyTorch's CPU kernel ({@code topk_impl_loop} in {@code aten/src/ATen/native/TopKImpl.h}) fills a vector of
 * (value, index) pairs in index order and then, with the comparator "x before y iff x is NaN and y is not, or
 * x.value &gt; y.value" (indices are never compared, and {@code -0.0 == 0.0}):
 * <ul>
 *   <li>if {@code k * 64 <= n}: {@code std::partial_sort(begin, begin + k, end)};
 *   <li>else {@code std::nth_element(begin, begin + k - 1, end)} (with {@code sorted=False} nothing else);
 * </ul>
 * and returns the first k pairs' indices in the order they are left in. Which of several equal values end up in the
 * first k, and in which order, is therefore decided by libstdc++'s algorithms, which are deterministic. This class is
 * a line-for-line port of them ({@code bits/stl_algo.h}: {@code __introselect} with depth limit
 * {@code 2·floor(log2 n)}, {@code __unguarded_partition_pivot} with {@code __move_median_to_first(first, first + 1,
 * mid, last - 1)}, {@code __unguarded_partition}, {@code __insertion_sort}, {@code __heap_select};
 * {@code bits/stl_heap.h}: {@code __make_heap}, {@code __adjust_heap}, {@code __push_heap}, {@code __pop_heap},
 * {@code __sort_heap}), so it moves the same pairs through the same comparisons and leaves them in the same order.
 * {@code TorchTopKTest} checks it index for index against torch 2.11's own results on rows full of exact ties.
 *
 */
final class TorchTopK {
  private final float[] val; // (n) the pairs' values, moved around by the selection
  private final int[] ind; // (n) the pairs' indices, moved with their values

  private TorchTopK(float[] values) {
    val = values.clone();
    ind = new int[values.length];
    for (int j = 0; j < ind.length; j++) {
      ind[j] = j;
    }
  }

  /** The indices of the k largest of {@code values}, in the order {@code torch.topk(sorted=False)} returns them. */
  static int[] largest(float[] values, int k) {
    int n = values.length;
    if (k < 0 || k > n) {
      throw new IllegalArgumentException("k (" + k + ") must be in [0, " + n + "] (the row's length)");
    }
    if (k == 0) {
      return new int[0];
    }
    TorchTopK q = new TorchTopK(values);
    if ((long) k * 64 <= n) {
      q.heapSelect(0, k, n);
      for (int last = k; last > 1; ) { // __sort_heap
        last--;
        q.popHeap(0, last, last);
      }
    } else {
      q.nthElement(n, k - 1);
    }
    int[] out = new int[k];
    System.arraycopy(q.ind, 0, out, 0, k);
    return out;
  }

  /** topk_impl_loop's comparator for largest=True: NaN first, then larger values first. */
  private static boolean before(float x, float y) {
    return (Float.isNaN(x) && !Float.isNaN(y)) || x > y;
  }

  private boolean before(int a, int b) {
    return before(val[a], val[b]);
  }

  private void swap(int a, int b) {
    float v = val[a];
    val[a] = val[b];
    val[b] = v;
    int i = ind[a];
    ind[a] = ind[b];
    ind[b] = i;
  }

  private void move(int to, int from) {
    val[to] = val[from];
    ind[to] = ind[from];
  }

  /** std::nth_element(first, first + nth, first + n): libstdc++'s __introselect. */
  private void nthElement(int n, int nth) {
    int first = 0;
    int last = n;
    if (nth == last) {
      return;
    }
    int depth = 2 * (31 - Integer.numberOfLeadingZeros(n)); // std::__lg(n) * 2
    while (last - first > 3) {
      if (depth == 0) {
        heapSelect(first, nth + 1, last);
        swap(first, nth);
        return;
      }
      depth--;
      int cut = partitionPivot(first, last);
      if (cut <= nth) {
        first = cut;
      } else {
        last = cut;
      }
    }
    insertionSort(first, last);
  }

  /** __unguarded_partition_pivot: median of (first + 1, mid, last - 1) to first, then partition around it. */
  private int partitionPivot(int first, int last) {
    int mid = first + (last - first) / 2;
    int a = first + 1;
    int c = last - 1;
    if (before(a, mid)) {
      if (before(mid, c)) {
        swap(first, mid);
      } else if (before(a, c)) {
        swap(first, c);
      } else {
        swap(first, a);
      }
    } else if (before(a, c)) {
      swap(first, a);
    } else if (before(mid, c)) {
      swap(first, c);
    } else {
      swap(first, mid);
    }
    return unguardedPartition(first + 1, last, first);
  }

  private int unguardedPartition(int first, int last, int pivot) {
    while (true) {
      while (before(first, pivot)) {
        first++;
      }
      last--;
      while (before(pivot, last)) {
        last--;
      }
      if (!(first < last)) {
        return first;
      }
      swap(first, last);
      first++;
    }
  }

  /** __insertion_sort with __unguarded_linear_insert. */
  private void insertionSort(int first, int last) {
    if (first == last) {
      return;
    }
    for (int i = first + 1; i != last; i++) {
      float v = val[i];
      int x = ind[i];
      if (before(v, val[first])) {
        System.arraycopy(val, first, val, first + 1, i - first);
        System.arraycopy(ind, first, ind, first + 1, i - first);
        val[first] = v;
        ind[first] = x;
      } else {
        int j = i;
        while (before(v, val[j - 1])) {
          move(j, j - 1);
          j--;
        }
        val[j] = v;
        ind[j] = x;
      }
    }
  }

  /** __heap_select: a heap of [first, middle), then every later pair that comes before its top replaces it. */
  private void heapSelect(int first, int middle, int last) {
    makeHeap(first, middle);
    for (int i = middle; i < last; i++) {
      if (before(i, first)) {
        popHeap(first, middle, i);
      }
    }
  }

  private void makeHeap(int first, int last) {
    int len = last - first;
    if (len < 2) {
      return;
    }
    for (int parent = (len - 2) / 2; ; parent--) {
      adjustHeap(first, parent, len, val[first + parent], ind[first + parent]);
      if (parent == 0) {
        return;
      }
    }
  }

  /** __pop_heap: the top goes to {@code result}, the pair that was at {@code result} sifts in from the top. */
  private void popHeap(int first, int last, int result) {
    float v = val[result];
    int x = ind[result];
    move(result, first);
    adjustHeap(first, 0, last - first, v, x);
  }

  /** __adjust_heap: the hole sinks along the children that come first, then (v, x) rises (__push_heap). */
  private void adjustHeap(int first, int hole, int len, float v, int x) {
    int top = hole;
    int child = hole;
    while (child < (len - 1) / 2) {
      child = 2 * (child + 1);
      if (before(first + child, first + child - 1)) {
        child--;
      }
      move(first + hole, first + child);
      hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
      child = 2 * (child + 1);
      move(first + hole, first + child - 1);
      hole = child - 1;
    }
    int parent = (hole - 1) / 2;
    while (hole > top && before(val[first + parent], v)) {
      move(first + hole, first + parent);
      hole = parent;
      parent = (hole - 1) / 2;
    }
    val[first + hole] = v;
    ind[first + hole] = x;
  }
}
