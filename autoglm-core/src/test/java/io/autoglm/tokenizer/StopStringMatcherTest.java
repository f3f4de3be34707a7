package io.autoglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The stop-string matcher holds back exactly the possible start of a stop string, and nothing else. */
class StopStringMatcherTest {

  @Test
  void holdsBackAPrefixUntilItIsDecided() {
    StopStringMatcher m = new StopStringMatcher(List.of("<END>"));
    assertEquals("abc", m.feed("abc<E").text()); // "<E" could start <END>
    StopStringMatcher.Step step = m.feed("X>def");
    assertEquals("<EX>def", step.text()); // it did not
    assertFalse(step.stopped());
    assertEquals("", m.feed("<").text());
    step = m.feed("END>tail");
    assertTrue(step.stopped());
    assertEquals("", step.text());
    assertEquals(Optional.of("<END>"), step.stopString());
  }

  @Test
  void earliestStopWinsAndLaterTextIsDropped() {
    StopStringMatcher m = new StopStringMatcher(List.of("world", "lo w"));
    StopStringMatcher.Step step = m.feed("hello world");
    assertEquals("hel", step.text());
    assertEquals(Optional.of("lo w"), step.stopString());
    assertThrows(IllegalStateException.class, () -> m.feed("more"));
  }

  @Test
  void flushReleasesHeldTextWhenTheStreamEndsOtherwise() {
    StopStringMatcher m = new StopStringMatcher(List.of("\n\nUser:"));
    assertEquals("answer", m.feed("answer\n\nUs").text());
    assertEquals("\n\nUs", m.flush());
  }

  @Test
  void rejectsEmptyAndMalformedStops() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new StopStringMatcher(List.of("ok", "")));
    assertTrue(e.getMessage().contains("stop string 1 is empty"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new StopStringMatcher(List.of("a\uD800")));
    assertTrue(e.getMessage().contains("U+D800"), e.getMessage());
  }
}
