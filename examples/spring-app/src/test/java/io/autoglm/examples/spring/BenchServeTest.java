package io.autoglm.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.examples.cli.AutoGLMCli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code autoglm bench-serve} against the sample app on a random checkpoint: its counts agree with the server's own
 * meters (requests, prompt and generated tokens), its percentiles are ordered and agree with its per-request times,
 * concurrency stays under the limit, Poisson arrivals spread the sends, an SLA decides the exit status, and a server
 * that refuses (wrong key: 401; rate limit: 429) has its errors counted by kind.
 */
class BenchServeTest {
  @TempDir static Path dir;
  static SampleApp app;
  static SampleApp guarded;
  static Path model;

  @BeforeAll
  static void start() {
    model = SampleApp.model(dir);
    app = SampleApp.start(model, Map.of());
    guarded = SampleApp.start(model, Map.of("autoglm.api-keys", "good-key",
        "autoglm.rate-limit.requests-per-minute", "1", "autoglm.rate-limit.request-burst", "5"));
  }

  @AfterAll
  static void stop() {
    if (app != null) {
      app.close();
    }
    if (guarded != null) {
      guarded.close();
    }
  }

  record Run(int exitCode, JsonObject report, String out, String err) {}

  static Run bench(String url, String... args) throws IOException {
    List<String> all = new ArrayList<>(List.of("--url", url));
    all.addAll(Arrays.asList(args));
    return benchWith(all.toArray(String[]::new));
  }

  /** bench-serve with {@code args} (the target's included), its JSON report and its output. */
  static synchronized Run benchWith(String... args) throws IOException {
    Path json = Files.createTempFile(dir, "report", ".json");
    List<String> all = new ArrayList<>(List.of("bench-serve", "--json", json.toString(), "--per-request"));
    all.addAll(Arrays.asList(args));
    PrintStream savedOut = System.out;
    PrintStream savedErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = new CommandLine(new AutoGLMCli()).execute(all.toArray(String[]::new));
    } finally {
      System.setOut(savedOut);
      System.setErr(savedErr);
    }
    String text = Files.readString(json);
    JsonObject report = text.isBlank() ? null : JsonParser.parseString(text).getAsJsonObject();
    Run r = new Run(code, report, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    System.out.println(r.out());
    return r;
  }

  @Test
  void concurrencyRunAgreesWithTheServersMeters() throws IOException {
    double tokensBefore = app.scrapeSum("autoglm_generation_tokens_total");
    double promptBefore = app.scrapeSum("autoglm_prompt_tokens_total");
    double ttftBefore = app.scrapeSum("gen_ai_server_time_to_first_token_seconds_count");
    Run r = bench(app.url(), "--num-requests", "24", "--max-concurrency", "6", "--prompt-len", "uniform:4:24",
        "--output-len", "8", "--ignore-eos", "--seed", "3", "--sla", "ttft_p99<=600s,error_rate<=0");
    assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
    JsonObject j = r.report();
    assertThat(j.get("completed").getAsInt()).isEqualTo(24);
    assertThat(j.get("failed").getAsInt()).isZero();
    assertThat(j.get("sla_passed").getAsBoolean()).isTrue();
    // ignore_eos: every request generates exactly its 8 tokens, and the server counted the same tokens
    assertThat(j.get("total_output_tokens").getAsLong()).isEqualTo(24 * 8);
    assertThat(app.scrapeSum("autoglm_generation_tokens_total") - tokensBefore).isEqualTo(24 * 8);
    assertThat(app.scrapeSum("autoglm_prompt_tokens_total") - promptBefore)
        .isEqualTo(j.get("total_input_tokens").getAsDouble());
    assertThat(app.scrapeSum("gen_ai_server_time_to_first_token_seconds_count") - ttftBefore).isEqualTo(24);
    for (String family : List.of("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")) {
      assertOrdered(family, j.getAsJsonObject(family));
    }
    JsonArray per = j.getAsJsonArray("per_request");
    assertThat(per).hasSize(24);
    double[] ttft = new double[24];
    long[][] spans = new long[24][];
    for (int i = 0; i < 24; i++) {
      JsonObject q = per.get(i).getAsJsonObject();
      ttft[i] = q.get("ttft_ms").getAsDouble();
      assertThat(ttft[i]).isPositive().isLessThanOrEqualTo(q.get("e2e_ms").getAsDouble());
      assertThat(q.get("output_tokens").getAsInt()).isEqualTo(8);
      double sent = q.get("sent_ms").getAsDouble();
      spans[i] = new long[] {Math.round(sent * 1000), Math.round((sent + q.get("e2e_ms").getAsDouble()) * 1000)};
    }
    Arrays.sort(ttft);
    // numpy's default percentile: linear between the closest ranks; p50 of 24 values is the mean of the 12th/13th
    assertThat(j.getAsJsonObject("ttft_ms").get("p50").getAsDouble()).isCloseTo((ttft[11] + ttft[12]) / 2,
        org.assertj.core.data.Offset.offset(1e-9));
    assertThat(j.getAsJsonObject("ttft_ms").get("max").getAsDouble()).isEqualTo(ttft[23]);
    assertThat(maxOverlap(spans)).isBetween(2, 6);
    assertThat(r.out()).contains("Successful requests:", "P99 TTFT (ms):", "PASS");
  }

  private static void assertOrdered(String family, JsonObject s) {
    double mean = s.get("mean").getAsDouble();
    double p50 = s.get("p50").getAsDouble();
    double p90 = s.get("p90").getAsDouble();
    double p99 = s.get("p99").getAsDouble();
    double max = s.get("max").getAsDouble();
    assertThat(s.get("count").getAsInt()).as(family).isPositive();
    assertThat(p50).as(family + " p50").isPositive().isLessThanOrEqualTo(p90);
    assertThat(p90).as(family + " p90").isLessThanOrEqualTo(p99);
    assertThat(p99).as(family + " p99").isLessThanOrEqualTo(max);
    assertThat(mean).as(family + " mean").isPositive().isLessThanOrEqualTo(max);
  }

  /** The most intervals open at one instant (an end at the same instant as a start closes first). */
  private static int maxOverlap(long[][] spans) {
    List<long[]> events = new ArrayList<>();
    for (long[] s : spans) {
      events.add(new long[] {s[0], 1});
      events.add(new long[] {s[1], -1});
    }
    events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
    int open = 0;
    int max = 0;
    for (long[] e : events) {
      open += (int) e[1];
      max = Math.max(max, open);
    }
    return max;
  }

  @Test
  void directModeSendsTheSameRequestsToAnEngineInProcess() throws IOException {
    String[] same = {"--num-requests", "8", "--max-concurrency", "4", "--prompt-len", "uniform:4:24",
        "--output-len", "6", "--ignore-eos", "--seed", "5", "--no-progress"};
    Run http = bench(app.url(), same);
    List<String> args = new ArrayList<>(List.of("--direct", model.toString(), "--backend", "cpu", "--kv-blocks",
        "256", "--tokenizer", SampleApp.fixtures().resolve("tokenizers/glm-4-9b-chat-hf").toString(), "--warmup",
        "2"));
    args.addAll(Arrays.asList(same));
    Run direct = benchWith(args.toArray(String[]::new));
    assertThat(direct.exitCode()).as(direct.out() + direct.err()).isZero();
    JsonObject d = direct.report();
    assertThat(d.getAsJsonObject("config").get("endpoint").getAsString()).startsWith("engine:" + model);
    assertThat(d.get("completed").getAsInt()).isEqualTo(8);
    assertThat(d.get("total_output_tokens").getAsInt()).isEqualTo(8 * 6);
    // the same prompts, rendered by the same template: the engine's prompt tokens are the server's, request by request
    JsonArray hp = http.report().getAsJsonArray("per_request");
    JsonArray dp = d.getAsJsonArray("per_request");
    for (int i = 0; i < 8; i++) {
      assertThat(dp.get(i).getAsJsonObject().get("prompt_tokens").getAsInt()).as("request " + i)
          .isEqualTo(hp.get(i).getAsJsonObject().get("prompt_tokens").getAsInt());
    }
    assertOrdered("direct ttft_ms", d.getAsJsonObject("ttft_ms"));
    assertOrdered("direct itl_ms", d.getAsJsonObject("itl_ms"));
  }

  @Test
  void aTargetIsRequiredAndOnlyOne() throws IOException {
    Run neither = benchWith("--num-requests", "1");
    assertThat(neither.exitCode()).isEqualTo(2);
    assertThat(neither.err()).contains("expected exactly one of --url (a server) and --direct (a checkpoint folder),"
        + " not neither");
    Run both = benchWith("--url", app.url(), "--direct", model.toString());
    assertThat(both.exitCode()).isEqualTo(2);
    assertThat(both.err()).contains("not both");
  }

  @Test
  void poissonArrivalsSpreadTheSends() throws IOException {
    Run r = bench(app.url(), "--num-requests", "20", "--request-rate", "40", "--prompt-len", "8", "--output-len",
        "2", "--seed", "11", "--no-progress");
    assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
    assertThat(r.report().get("completed").getAsInt()).isEqualTo(20);
    double first = Double.MAX_VALUE;
    double last = 0;
    for (JsonElement e : r.report().getAsJsonArray("per_request")) {
      double sent = e.getAsJsonObject().get("sent_ms").getAsDouble();
      first = Math.min(first, sent);
      last = Math.max(last, sent);
    }
    // 19 exponential gaps at 40/s: their sum is Gamma(19, 40), mean 475 ms; below 100 ms with p < 1e-8
    assertThat(last - first).isGreaterThan(100);
    assertThat(r.err()).doesNotContain("bench-serve [");
  }

  @Test
  void aFailedObjectiveExitsOne() throws IOException {
    Run r = bench(app.url(), "--num-requests", "4", "--output-len", "4", "--prompt-len", "8",
        "--sla", "ttft_p50<=1us,error_rate<=0");
    assertThat(r.exitCode()).as(r.out() + r.err()).isEqualTo(1);
    JsonArray sla = r.report().getAsJsonArray("sla");
    assertThat(sla.get(0).getAsJsonObject().get("passed").getAsBoolean()).isFalse();
    assertThat(sla.get(0).getAsJsonObject().get("value").getAsDouble()).isGreaterThan(1e-3);
    assertThat(sla.get(1).getAsJsonObject().get("passed").getAsBoolean()).isTrue();
    assertThat(r.report().get("sla_passed").getAsBoolean()).isFalse();
    assertThat(r.err()).contains("bench-serve [", "4/4 requests");
  }

  @Test
  void aDatasetSetsEachRequestsOutputLength() throws IOException {
    Path data = dir.resolve("prompts.jsonl");
    Files.writeString(data, """
        {"prompt": "Tell me about the sea.", "max_tokens": 4}
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_tokens": 6}

        {"prompt": "Count to ten.", "max_tokens": 8}
        """);
    Run r = bench(app.url(), "--dataset", data.toString(), "--num-requests", "6", "--ignore-eos",
        "--max-concurrency", "3", "--no-progress");
    assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
    assertThat(r.report().get("completed").getAsInt()).isEqualTo(6);
    assertThat(r.report().get("total_output_tokens").getAsInt()).isEqualTo(2 * (4 + 6 + 8));
  }

  @Test
  void refusalsAreCountedByKind() throws IOException {
    Run wrongKey = bench(guarded.url(), "--api-key", "bad-key", "--num-requests", "6", "--output-len", "4",
        "--no-progress", "--sla", "error_rate<=1%");
    assertThat(wrongKey.exitCode()).isEqualTo(1);
    assertThat(wrongKey.report().get("failed").getAsInt()).isEqualTo(6);
    assertThat(wrongKey.report().get("error_rate").getAsDouble()).isEqualTo(1.0);
    assertThat(wrongKey.report().getAsJsonObject("errors").keySet()).containsExactly("http_401");
    assertThat(wrongKey.report().getAsJsonObject("ttft_ms").get("count").getAsInt()).isZero();
    assertThat(wrongKey.out()).contains("http_401:", "invalid_api_key");

    double rejectedBefore = guarded.scrapeSum("autoglm_rate_limit_rejections_total");
    Run limited = bench(guarded.url(), "--api-key", "good-key", "--num-requests", "12", "--max-concurrency", "1",
        "--output-len", "2", "--prompt-len", "4", "--no-progress", "--sla", "error_rate<=0.6");
    // a burst of 5 at 1 a minute: the first 5 pass, the other 7 get 429 (the run takes seconds, not a minute)
    assertThat(limited.report().get("completed").getAsInt()).isEqualTo(5);
    assertThat(limited.report().get("failed").getAsInt()).isEqualTo(7);
    assertThat(limited.report().getAsJsonObject("errors").get("http_429").getAsInt()).isEqualTo(7);
    assertThat(limited.report().get("error_rate").getAsDouble()).isEqualTo(7 / 12.0);
    assertThat(limited.exitCode()).isZero(); // 0.583 <= 0.6
    assertThat(guarded.scrapeSum("autoglm_rate_limit_rejections_total") - rejectedBefore)
        .isEqualTo(7);
  }

  @Test
  void badOptionsExitTwo() throws IOException {
    assertThat(bench(app.url(), "--sla", "ttft_p99<=fast").exitCode()).isEqualTo(2);
    Run r = bench(app.url(), "--prompt-len", "uniform:9:3");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--prompt-len uniform:9:3: uniform max 3 is below min 9");
  }
}
