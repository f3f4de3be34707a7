package io.autoglm.cuda.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The routing margin that decides whether a backend's different expert choice is a near-tie (hand-worked cases). */
class RouteCheckTest {

  @Test
  void withoutGroupsTheMarginIsTheGapBetweenTheKthAndTheNextScore() {
    // sorted descending 0.5, 0.3, 0.2, 0.1: the 2nd choice (0.3) against the first left out (0.2)
    assertEquals(0.1f, RouteCheck.margin(new float[] {0.5f, 0.1f, 0.3f, 0.2f}, 2, 1, 1), 1e-6f);
  }

  @Test
  void groupLimitedRoutingCountsTheGroupMarginHalved() {
    // groups of two: top-2 sums 1.7, 0.9, 0.89, 0.1; the 2 best groups are 0 and 1, group 2 trails by 0.01.
    // Inside the kept groups (0.9, 0.8, 0.5, 0.4) the 2nd choice leads the next by 0.3; half the group gap is 0.005.
    float[] biased = {0.9f, 0.8f, 0.5f, 0.4f, 0.45f, 0.44f, 0.1f, 0.0f};
    assertEquals(0.005f, RouteCheck.margin(biased, 2, 4, 2), 1e-6f);
  }

  @Test
  void expertsOfDroppedGroupsDoNotNarrowTheMargin() {
    // groups 0 (0.9, 0.2) and 1 (0.7, 0.0) are kept (sums 1.1, 0.7 against 0.1 and 0.0): half the group gap is 0.3;
    // the 2nd choice 0.7 leads the next kept value 0.2 by 0.5. Dropped group 2's 0.5 would give 0.2 if counted.
    float[] biased = {0.9f, 0.2f, 0.7f, 0.0f, 0.5f, -0.4f, 0.0f, 0.0f};
    assertEquals(0.3f, RouteCheck.margin(biased, 2, 4, 2), 1e-6f);
  }

  @Test
  void exactTiesAtTheCutAreZeroMargin() {
    float[] biased = {0.3f, -0.02f, -0.02f, 0.1f};
    assertEquals(0f, RouteCheck.margin(biased, 3, 1, 1), 0f);
  }
}
