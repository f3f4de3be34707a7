package io.autoglm.answer;

import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import java.util.ArrayList;
import java.util.List;

/** Text helpers of {@link AnswerParser}: held-back marker prefixes, and merging of adjacent deltas. */
final class AnswerText {
  private AnswerText() {}

  /** The length of the longest end of {@code pending} that is a proper prefix of either marker. */
  static int partialSuffix(CharSequence pending, String a, String b) {
    int best = 0;
    for (String m : new String[] {a, b}) {
      for (int k = Math.min(m.length() - 1, pending.length()); k > best; k--) {
        if (pending.subSequence(pending.length() - k, pending.length()).toString().equals(m.substring(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }

  /** Adjacent content (or reasoning) pieces joined into one. */
  static List<AnswerDelta> coalesce(List<AnswerDelta> deltas) {
    List<AnswerDelta> merged = new ArrayList<>();
    for (AnswerDelta d : deltas) {
      AnswerDelta last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (d instanceof AnswerDelta.Content c && last instanceof AnswerDelta.Content l) {
        merged.set(merged.size() - 1, new AnswerDelta.Content(l.text() + c.text()));
      } else if (d instanceof AnswerDelta.Reasoning r && last instanceof AnswerDelta.Reasoning l) {
        merged.set(merged.size() - 1, new AnswerDelta.Reasoning(l.text() + r.text()));
      } else {
        merged.add(d);
      }
    }
    return merged;
  }

  /** {@code call_} and 24 hex digits, as vLLM's random ids. */
  static String randomCallId() {
    return "call_" + java.util.UUID.randomUUID().toString().replace("-", "").substring(0, 24);
  }
}
