package io.autoglm.examples.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import io.autoglm.examples.cli.serve.EngineTarget;
import io.autoglm.examples.cli.serve.LengthDistribution;
import io.autoglm.examples.cli.serve.PromptSource;
import io.autoglm.examples.cli.serve.ServeLoad;
import io.autoglm.examples.cli.serve.ServeReport;
import io.autoglm.examples.cli.serve.Sla;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A serving benchmark in the manner of vLLM's benchmark_serving: streamed chat completions against any
 * OpenAI-compatible URL, at a Poisson request rate or a fixed concurrency, with a pass/fail exit status against an
 * SLA. {@code --direct MODEL} sends the same requests to an engine in this process instead, for the cost of serving.
 * Exit 0: no SLA given, or every clause held; 1: a clause failed; 2: bad options.
 */
@Command(name = "bench-serve", mixinStandardHelpOptions = true,
    description = "Benchmark an OpenAI-compatible server (streamed chat completions): throughput, TTFT, ITL, TPOT,"
        + " end-to-end latency and errors, checked against an SLA.")
final class BenchServeCommand implements Callable<Integer> {
  @Option(names = "--url",
      description = "Server base URL, e.g. http://localhost:8080 (/v1/chat/completions is appended).")
  URI url;

  @Option(names = "--direct", description = "Instead of --url: a checkpoint folder, served by an engine in this"
      + " process with the same prompts, lengths, arrivals and concurrency (the engine's numbers without HTTP).")
  Path direct;

  @Option(names = "--backend", description = "With --direct: cpu, cuda, ... (default: the best available).")
  String backend;

  @Option(names = "--kv-blocks", defaultValue = "0",
      description = "With --direct: KV blocks (default: sized from memory, as the server does).")
  int kvBlocks;

  @Option(names = "--tokenizer", description = "With --direct: tokenizer folder, when not the checkpoint's.")
  Path tokenizer;

  @Option(names = "--warmup", defaultValue = "0",
      description = "Requests sent first (same settings, other prompts) and left out of the report (default"
          + " ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--model", description = "Model id to send (default: none, the server's one model).")
  String model;

  @Option(names = "--api-key", description = "Bearer key (default: the OPENAI_API_KEY environment variable).")
  String apiKey = System.getenv("OPENAI_API_KEY");

  @Option(names = "--num-requests", defaultValue = "100", description = "Requests to send (default ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--request-rate", defaultValue = "inf",
      description = "Requests per second, Poisson arrivals; inf sends them all at once (default ${DEFAULT-VALUE}).")
  String requestRate;

  @Option(names = "--max-concurrency", defaultValue = "0",
      description = "Requests in flight at most; 0: unbounded (default ${DEFAULT-VALUE}).")
  int maxConcurrency;

  @Option(names = "--prompt-len", defaultValue = "128",
      description = "Prompt length in words (about one token each): N, uniform:MIN:MAX or normal:MEAN:SD"
          + " (default ${DEFAULT-VALUE}).")
  String promptLen;

  @Option(names = "--output-len", defaultValue = "128",
      description = "max_tokens per request: N, uniform:MIN:MAX or normal:MEAN:SD (default ${DEFAULT-VALUE}).")
  String outputLen;

  @Option(names = "--dataset", description = "JSONL file, one {\"prompt\": ...} or {\"messages\": [...]} a line,"
      + " with an optional max_tokens; cycled when shorter than --num-requests.")
  Path dataset;

  @Option(names = "--ignore-eos", description = "Send ignore_eos (vLLM's extension), so every request generates"
      + " exactly its max_tokens.")
  boolean ignoreEos;

  @Option(names = "--temperature", defaultValue = "0", description = "Sampling temperature (default ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of arrivals, lengths and prompts.")
  long seed;

  @Option(names = "--timeout", defaultValue = "PT5M", description = "Per-request timeout, ISO-8601 (default ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = "--sla", description = "Objectives, e.g. ttft_p99<=500ms,itl_p90<=50ms,error_rate<=0.01: the exit"
      + " status is 1 when one fails. Metrics: ttft|itl|tpot|e2e with _mean, _max or _pNN; error_rate;"
      + " request_throughput; output_throughput; total_token_throughput.")
  String sla;

  @Option(names = "--json", description = "Write the report as JSON to this file ('-': standard output, the summary"
      + " then goes to standard error).")
  String json;

  @Option(names = "--per-request", description = "Add every request's times and token counts to the JSON.")
  boolean perRequest;

  @Option(names = "--no-progress", description = "Draw no progress bar (by default one is drawn on standard error).")
  boolean noProgress;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException, InterruptedException {
    Sla objectives;
    ServeLoad.Settings settings;
    try {
      if ((url == null) == (direct == null)) {
        throw new IllegalArgumentException("expected exactly one of --url (a server) and --direct (a checkpoint"
            + " folder), not " + (url == null ? "neither" : "both"));
      }
      if (warmup < 0) {
        throw new IllegalArgumentException("--warmup " + warmup + ": expected >= 0");
      }
      objectives = sla == null ? null : Sla.parse(sla);
      settings = new ServeLoad.Settings(url, model, apiKey, requests, rate(), maxConcurrency, temperature, ignoreEos,
          timeout, seed);
      source(seed); // the options' errors before a model loads
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e); // exit status 2, with the usage
    }
    if (direct == null) {
      return report(settings, objectives, null);
    }
    AutoGLM.Builder b = AutoGLM.builder().modelPath(direct);
    if (backend != null) {
      b.backend(backend);
    }
    if (kvBlocks > 0) {
      b.kvBlocks(kvBlocks);
    }
    if (tokenizer != null) {
      b.tokenizerPath(tokenizer);
    }
    try (AutoGLM glm = b.build()) {
      int code = report(settings, objectives, new EngineTarget(glm, settings));
      EngineStats s = glm.stats(); // warm-up included
      System.err.printf(java.util.Locale.ROOT, "engine: %d steps, %.2f ms a step, %.2f ms of it in the backend's"
          + " forward%n", s.steps(), s.stepNanos() / 1e6 / Math.max(1, s.steps()),
          s.forwardNanos() / 1e6 / Math.max(1, s.steps()));
      return code;
    }
  }

  private PromptSource source(long seed) throws IOException {
    LengthDistribution out = LengthDistribution.parse("--output-len", outputLen);
    return dataset != null ? PromptSource.dataset(dataset, out, seed)
        : PromptSource.synthetic(LengthDistribution.parse("--prompt-len", promptLen), out, seed);
  }

  /** Runs the warm-up (if any), then the measured load on {@code target} (null: the server at --url). */
  private int report(ServeLoad.Settings settings, Sla objectives, ServeLoad.Target target)
      throws IOException, InterruptedException {
    if (warmup > 0) {
      ServeLoad.Settings w = new ServeLoad.Settings(settings.baseUrl(), model, apiKey, warmup,
          settings.requestRate(), maxConcurrency, temperature, ignoreEos, timeout, seed + 1);
      (target == null ? new ServeLoad(w, null) : new ServeLoad(w, null, target)).run(source(seed + 1));
    }
    PrintStream bar = noProgress ? null : System.err;
    ServeLoad load = target == null ? new ServeLoad(settings, bar) : new ServeLoad(settings, bar, target);
    ServeReport report = load.run(source(seed));
    List<Sla.Verdict> verdicts = objectives == null ? null : objectives.evaluate(report);
    PrintStream summary = "-".equals(json) ? System.err : System.out;
    summary.println(report.toText(verdicts));
    if (json != null) {
      String text = new GsonBuilder().serializeNulls().serializeSpecialFloatingPointValues().setPrettyPrinting()
          .create().toJson(report.toJson(config(load), verdicts, perRequest));
      if (json.equals("-")) {
        System.out.println(text);
      } else {
        Files.writeString(Path.of(json), text + "\n", StandardCharsets.UTF_8);
      }
    }
    return verdicts == null || verdicts.stream().allMatch(Sla.Verdict::passed) ? 0 : 1;
  }

  private double rate() {
    if (requestRate.equalsIgnoreCase("inf")) {
      return Double.POSITIVE_INFINITY;
    }
    try {
      return Double.parseDouble(requestRate);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--request-rate " + requestRate + ": expected requests per second or inf");
    }
  }

  private JsonObject config(ServeLoad load) {
    JsonObject c = new JsonObject();
    c.addProperty("endpoint", load.endpoint());
    c.addProperty("model", model);
    c.addProperty("num_requests", requests);
    c.addProperty("request_rate", requestRate);
    c.addProperty("max_concurrency", maxConcurrency);
    c.addProperty("prompt_len", dataset == null ? promptLen : null);
    c.addProperty("output_len", outputLen);
    c.addProperty("dataset", dataset == null ? null : dataset.toString());
    c.addProperty("ignore_eos", ignoreEos);
    c.addProperty("temperature", temperature);
    c.addProperty("seed", seed);
    c.addProperty("warmup", warmup);
    c.addProperty("sla", sla);
    return c;
  }
}
