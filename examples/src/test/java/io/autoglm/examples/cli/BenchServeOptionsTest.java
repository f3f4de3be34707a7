package io.autoglm.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.examples.cli.serve.LengthDistribution;
import io.autoglm.examples.cli.serve.PromptSource;
import io.autoglm.examples.cli.serve.RequestOutcome;
import io.autoglm.examples.cli.serve.ServeReport;
import io.autoglm.examples.cli.serve.Sla;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bench-serve's parsing and statistics without a server: SLA clauses and their units, length specs, dataset lines,
 * and percentiles against numpy's (values from {@code numpy.percentile}, linear interpolation). BenchServeTest in
 * examples/spring-app runs the command against the sample app.
 */
class BenchServeOptionsTest {
  @Test
  void percentilesMatchNumpy() {
    double[] a = {3, 1, 4, 1, 5, 9, 2, 6};
    Arrays.sort(a);
    // numpy.percentile([3,1,4,1,5,9,2,6], [0, 50, 90, 99, 100, 37.5]) = [1, 3.5, 6.9, 8.79, 9, 2.625]
    double[] p = {0, 50, 90, 99, 100, 37.5};
    double[] expected = {1, 3.5, 6.9, 8.79, 9, 2.625};
    for (int i = 0; i < p.length; i++) {
      assertEquals(expected[i], ServeReport.percentile(a, p[i]), 1e-12, "p" + p[i]);
    }
    assertTrue(Double.isNaN(ServeReport.percentile(new double[0], 50)));
  }

  @Test
  void slaUnitsAndOperators() {
    Sla sla = Sla.parse("ttft_p99<=0.5s, itl_p90<50ms,e2e_mean<=250000us,error_rate<=1%,output_throughput>=10,"
        + "tpot_p99.9<=20");
    List<Sla.Clause> c = sla.clauses();
    assertEquals(6, c.size());
    assertEquals(500, c.get(0).limit(), 1e-9);
    assertEquals("<", c.get(1).op());
    assertEquals(50, c.get(1).limit(), 1e-9);
    assertEquals(250, c.get(2).limit(), 1e-9);
    assertEquals(0.01, c.get(3).limit(), 1e-12);
    assertEquals(">=", c.get(4).op());
    assertEquals("tpot_p99.9", c.get(5).metric());
    assertEquals(20, c.get(5).limit(), 1e-9);
  }

  @Test
  void badSlaClausesNameTheClause() {
    assertMessage("--sla clause 'ttft_p99<=fast': expected METRIC<=VALUE", () -> Sla.parse("ttft_p99<=fast"));
    assertMessage("unknown metric 'latency_p99'", () -> Sla.parse("latency_p99<=5"));
    assertMessage("unit 'min' for a latency; expected us, ms or s", () -> Sla.parse("e2e_p50<=2min"));
    assertMessage("percentile 120 is over 100", () -> Sla.parse("ttft_p120<=5"));
    assertMessage("unit 'ms' for request_throughput; expected none", () -> Sla.parse("request_throughput>=3ms"));
    assertMessage("no clause", () -> Sla.parse(" , "));
  }

  @Test
  void anObjectiveWithoutSamplesFails() {
    // every request failed: no TTFT sample, so ttft_p99<=1s cannot hold; error_rate is 1
    ServeReport r = new ServeReport(List.of(failed(), failed()), 1_000_000_000L);
    List<Sla.Verdict> v = Sla.parse("ttft_p99<=1s,error_rate<=1").evaluate(r);
    assertEquals(false, v.get(0).passed());
    assertEquals(true, v.get(1).passed());
    assertEquals(1.0, v.get(1).value());
    assertEquals(2, r.errors().get("http_503"));
  }

  private static RequestOutcome failed() {
    return new RequestOutcome(0, -1, 5, -1, 0, new long[0], "http_503", "overloaded");
  }

  @Test
  void lengthSpecs() {
    SplittableRandom random = new SplittableRandom(1);
    assertEquals(new LengthDistribution.Fixed(7), LengthDistribution.parse("--output-len", "7"));
    LengthDistribution u = LengthDistribution.parse("--output-len", "uniform:3:5");
    int[] seen = new int[6];
    for (int i = 0; i < 300; i++) {
      seen[u.sample(random)]++;
    }
    assertTrue(seen[3] > 0 && seen[4] > 0 && seen[5] > 0 && seen[0] + seen[1] + seen[2] == 0, Arrays.toString(seen));
    LengthDistribution n = LengthDistribution.parse("--prompt-len", "normal:100:10");
    double sum = 0;
    for (int i = 0; i < 4000; i++) {
      sum += n.sample(random);
    }
    assertEquals(100, sum / 4000, 1.0); // the mean of 4000 draws of sd 10 is within 1 with p > 0.99999
    assertMessage("--prompt-len 0: lengths must be at least 1, got 0", () -> LengthDistribution.parse("--prompt-len", "0"));
    assertMessage("--output-len uniform:9:3: uniform max 3 is below min 9",
        () -> LengthDistribution.parse("--output-len", "uniform:9:3"));
    assertMessage("--output-len gauss:1:2: expected N, uniform:MIN:MAX or normal:MEAN:SD",
        () -> LengthDistribution.parse("--output-len", "gauss:1:2"));
  }

  @Test
  void datasetLinesAreChecked(@TempDir Path dir) throws IOException {
    Path good = dir.resolve("good.jsonl");
    Files.writeString(good, "{\"prompt\": \"a\", \"max_tokens\": 3}\n\n{\"messages\": [{\"role\": \"user\","
        + " \"content\": \"b\"}]}\n");
    PromptSource s = PromptSource.dataset(good, new LengthDistribution.Fixed(9), 0);
    assertEquals(3, s.next().maxTokens());
    PromptSource.Prompt second = s.next();
    assertEquals(9, second.maxTokens());
    assertEquals("b", second.messages().get(0).getAsJsonObject().get("content").getAsString());
    assertEquals(3, s.next().maxTokens()); // cycled
    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, "{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n");
    assertMessage("bad.jsonl line 2: expected an object with a string 'prompt' or an array 'messages'",
        () -> PromptSource.dataset(bad, new LengthDistribution.Fixed(1), 0));
    Files.writeString(bad, "{\"prompt\": \"a\", \"max_tokens\": 0}\n");
    assertMessage("line 1: max_tokens 0 is not a positive integer",
        () -> PromptSource.dataset(bad, new LengthDistribution.Fixed(1), 0));
  }

  private interface Body {
    void run() throws Exception;
  }

  private static void assertMessage(String part, Body body) {
    Exception e = assertThrows(IllegalArgumentException.class, body::run);
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }
}
