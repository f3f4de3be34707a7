package io.autoglm.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonEnumSchema;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.model.chat.response.PartialToolCallContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import io.autoglm.grammar.SchemaOracle;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The streaming model against the blocking one (the same seeded request must give the same answer both ways), the
 * tokenizer (usage counts the rendered prompt's tokens) and the engine's own accounting (a cancelled or abandoned
 * stream leaves nothing running and the KV cache at its idle level).
 */
class StreamingChatModelTest {
  private static AutoGLM glm;

  @BeforeAll
  static void start() {
    glm = TestEngine.start();
  }

  @AfterAll
  static void stop() {
    glm.close();
  }

  /** Records every callback; {@code response} completes with the final response or the error. */
  static class Recording implements StreamingChatResponseHandler {
    final List<String> partials = new CopyOnWriteArrayList<>();
    final List<PartialToolCall> partialCalls = new CopyOnWriteArrayList<>();
    final List<CompleteToolCall> calls = new CopyOnWriteArrayList<>();
    final CompletableFuture<ChatResponse> response = new CompletableFuture<>();
    final AtomicInteger terminals = new AtomicInteger();

    @Override
    public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
      partials.add(partial.text());
    }

    @Override
    public void onPartialToolCall(PartialToolCall call, PartialToolCallContext context) {
      partialCalls.add(call);
    }

    @Override
    public void onCompleteToolCall(CompleteToolCall call) {
      calls.add(call);
    }

    @Override
    public void onCompleteResponse(ChatResponse r) {
      terminals.incrementAndGet();
      response.complete(r);
    }

    @Override
    public void onError(Throwable error) {
      terminals.incrementAndGet();
      response.completeExceptionally(error);
    }
  }

  private static ChatRequest ask(String question) {
    return ChatRequest.builder().messages(UserMessage.from(question)).build();
  }

  @Test
  void partialsAddUpToTheBlockingAnswerAndUsageCountsTheTokens() throws Exception {
    AutoGLMStreamingChatModel streaming = AutoGLMStreamingChatModel.builder().autoGLM(glm).temperature(1.0)
        .seed(5L).maxTokens(12).build();
    AutoGLMChatModel blocking = AutoGLMChatModel.builder().autoGLM(glm).temperature(1.0).seed(5L).maxTokens(12)
        .build();
    Recording h = new Recording();
    streaming.chat(ask("Tell me a story."), h);
    ChatResponse r = h.response.get(60, TimeUnit.SECONDS);

    assertTrue(h.partials.size() > 1, "streamed in pieces: " + h.partials);
    assertEquals(r.aiMessage().text(), String.join("", h.partials));
    assertEquals(blocking.chat(ask("Tell me a story.")).aiMessage().text(), r.aiMessage().text());
    int promptTokens = glm.tokenizer().encodeChat(ChatPrompt.of(List.of(ChatMessage.user("Tell me a story."))))
        .size();
    assertEquals(promptTokens, r.tokenUsage().inputTokenCount());
    assertEquals(r.finishReason() == FinishReason.LENGTH ? 12 : r.tokenUsage().outputTokenCount(),
        r.tokenUsage().outputTokenCount());
    assertEquals(promptTokens + r.tokenUsage().outputTokenCount(), r.tokenUsage().totalTokenCount());
    assertEquals(TestEngine.MODEL_ID, r.modelName());
    assertEquals(1, h.terminals.get());
  }

  @Test
  void aForcedCallStreamsItsArgumentsAndEndsWithToolExecution() throws Exception {
    ToolSpecification tool = ToolSpecification.builder().name("set_city").description("Pick a city")
        .parameters(JsonObjectSchema.builder().addProperty("city", JsonEnumSchema.builder()
            .enumValues("PARIS", "BERLIN").build()).required("city").build()).build();
    AutoGLMStreamingChatModel model = AutoGLMStreamingChatModel.builder().autoGLM(glm).temperature(1.0).seed(3L)
        .maxTokens(64).build();
    Recording h = new Recording();
    model.chat(ChatRequest.builder().messages(UserMessage.from("Pick one")).toolSpecifications(tool)
        .toolChoice(ToolChoice.REQUIRED).build(), h);
    ChatResponse r = h.response.get(60, TimeUnit.SECONDS);

    assertEquals(FinishReason.TOOL_EXECUTION, r.finishReason());
    assertNull(r.aiMessage().text(), "a forced answer is only the call");
    var request = r.aiMessage().toolExecutionRequests().get(0);
    assertEquals("set_city", request.name());
    assertEquals(request.arguments(), String.join("", h.partialCalls.stream().map(PartialToolCall::partialArguments)
        .toList()));
    assertEquals(List.of(request), h.calls.stream().map(CompleteToolCall::toolExecutionRequest).toList());
    Object schema = ((Map<?, ?>) ChatRequests.tools(List.of(tool)).get(0).get("function")).get("parameters");
    assertEquals(List.of(), new SchemaOracle(new Gson().toJson(schema)).errors(request.arguments()));
  }

  @Test
  void cancellingFromACallbackStopsTheRequestAndFreesItsBlocks() throws Exception {
    double idle = TestEngine.awaitIdle(glm, glm.stats().kvUsage()).kvUsage();
    AutoGLMStreamingChatModel model = AutoGLMStreamingChatModel.builder().autoGLM(glm).temperature(1.0).seed(9L)
        .maxTokens(1500).build();
    AtomicInteger seen = new AtomicInteger();
    CompletableFuture<EngineStats> during = new CompletableFuture<>();
    Recording h = new Recording() {
      @Override
      public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
        if (seen.incrementAndGet() == 3) {
          during.complete(glm.stats());
          context.streamingHandle().cancel();
          assertTrue(context.streamingHandle().isCancelled());
        }
      }
    };
    model.chat(ask("Count to a thousand."), h);
    EngineStats running = during.get(60, TimeUnit.SECONDS);
    assertEquals(1, running.running() + running.waiting(), "the request was in the engine: " + running);
    assertTrue(running.kvUsage() > idle, "the request held blocks: " + running);
    TestEngine.awaitIdle(glm, idle);
    assertEquals(0, h.terminals.get(), "a cancelled stream gets no further callback");
    assertTrue(seen.get() < 1500, "stopped long before max tokens: " + seen.get());
  }

  @Test
  void aThrowingCallbackCancelsTheRequestAndReachesOnErrorOnce() throws Exception {
    double idle = TestEngine.awaitIdle(glm, glm.stats().kvUsage()).kvUsage();
    AutoGLMStreamingChatModel model = AutoGLMStreamingChatModel.builder().autoGLM(glm).temperature(1.0).seed(9L)
        .maxTokens(1500).build();
    IllegalStateException boom = new IllegalStateException("handler broke");
    AtomicInteger seen = new AtomicInteger();
    CompletableFuture<EngineStats> during = new CompletableFuture<>();
    Recording h = new Recording() {
      @Override
      public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
        if (seen.incrementAndGet() == 2) {
          during.complete(glm.stats());
          throw boom;
        }
      }
    };
    model.chat(ask("Count to a thousand."), h);
    Throwable error = h.response.handle((r, e) -> e).get(60, TimeUnit.SECONDS);
    assertSame(boom, error);
    assertTrue(during.get().kvUsage() > idle, "the request held blocks: " + during.get());
    TestEngine.awaitIdle(glm, idle);
    assertEquals(2, seen.get(), "nothing is delivered after the throw");
    assertEquals(1, h.terminals.get());
  }

  @Test
  void aRequestTheAdapterRefusesGoesToOnError() throws Exception {
    AutoGLMStreamingChatModel model = AutoGLMStreamingChatModel.builder().autoGLM(glm).build();
    Recording h = new Recording();
    model.chat(ChatRequest.builder().messages(UserMessage.from("q")).presencePenalty(0.5).build(), h);
    Throwable error = h.response.handle((r, e) -> e).get(60, TimeUnit.SECONDS); // a hang guard
    assertInstanceOf(dev.langchain4j.exception.UnsupportedFeatureException.class, error);
    assertEquals(1, h.terminals.get());
  }
}
