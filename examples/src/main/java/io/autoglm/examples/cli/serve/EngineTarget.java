package io.autoglm.examples.cli.serve;

import com.google.gson.JsonObject;
import io.autoglm.AutoGLM;
import io.autoglm.FinishReason;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import io.autoglm.TokenEvent;
import io.autoglm.ChatPrompt;
import java.util.ArrayList;
import java.util.List;

/**
 * The engine in this process, driven as the server drives it: each request's messages rendered with the model's
 * chat template (the assistant's turn opened), the same sampling (max tokens, temperature, ignore_eos) and timeout,
 * streamed through {@link GenerationHandle#blockingTokens}. TTFT is the first event with text, ITL the gaps between
 * such events, the token counts the engine's usage: what bench-serve measures over HTTP, less the server. A failed
 * request's kind: {@code engine_error} (the result's error) or {@code engine} (an exception, e.g. a prompt over the
 * context).
 */
public final class EngineTarget implements ServeLoad.Target {
  private final AutoGLM glm;
  private final ServeLoad.Settings settings;

  public EngineTarget(AutoGLM glm, ServeLoad.Settings settings) {
    this.glm = glm;
    this.settings = settings;
  }

  @Override
  public String describe() {
    return "engine:" + glm.modelPath() + " (" + glm.backendName() + ")";
  }

  @Override
  public RequestOutcome send(PromptSource.Prompt prompt, long runStart) {
    long sent = System.nanoTime();
    try {
      JsonObject chat = new JsonObject();
      chat.add("messages", prompt.messages());
      SamplingParams sampling = SamplingParams.builder().maxNewTokens(prompt.maxTokens())
          .temperature(settings.temperature()).ignoreEos(settings.ignoreEos()).build();
      GenerationHandle h = glm.submit(TextRequest.chat(ChatPrompt.fromJson(chat.toString()), sampling)
          .withTimeout(settings.timeout()));
      long first = -1;
      long last = -1;
      List<Long> gaps = new ArrayList<>();
      for (TokenEvent e : h.blockingTokens()) {
        if (e.text().isEmpty()) {
          continue;
        }
        long now = System.nanoTime();
        if (first < 0) {
          first = now;
        } else {
          gaps.add(now - last);
        }
        last = now;
      }
      GenerationResult r = h.result().join();
      long e2e = System.nanoTime() - sent;
      if (r.finishReason() == FinishReason.ERROR) {
        return RequestOutcome.failed(sent - runStart, e2e, "engine_error", r.error().orElse(""));
      }
      return new RequestOutcome(sent - runStart, first < 0 ? -1 : first - sent, e2e, r.usage().promptTokens(),
          r.usage().completionTokens(), gaps.stream().mapToLong(Long::longValue).toArray(), null, null);
    } catch (RuntimeException e) {
      return RequestOutcome.failed(sent - runStart, System.nanoTime() - sent, "engine", e.toString());
    }
  }
}
