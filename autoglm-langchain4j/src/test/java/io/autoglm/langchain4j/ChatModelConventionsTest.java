package io.autoglm.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import io.autoglm.AutoGLM;
import io.autoglm.TextRequest;
import io.autoglm.ChatMessage;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** LangChain4j's conventions: every parameter honoured or refused with a message naming it, nulls checked. */
class ChatModelConventionsTest {
  private static AutoGLM glm;
  private static AutoGLMChatModel model;

  @BeforeAll
  static void start() {
    glm = TestEngine.start();
    model = AutoGLMChatModel.builder().autoGLM(glm).maxTokens(4).build();
  }

  @AfterAll
  static void stop() {
    glm.close();
  }

  private static String refusal(Class<? extends RuntimeException> type, ChatRequest.Builder request) {
    return assertThrows(type, () -> model.chat(request.build())).getMessage();
  }

  private static ChatRequest.Builder ask() {
    return ChatRequest.builder().messages(UserMessage.from("q"));
  }

  @Test
  void unsupportedParametersAreRefusedByName() {
    assertEquals("frequencyPenalty (0.5) is not supported by AutoGLM: the engine has no penalties; leave it unset "
        + "or 0", refusal(UnsupportedFeatureException.class, ask().frequencyPenalty(0.5)));
    assertEquals("presencePenalty (-1.0) is not supported by AutoGLM: the engine has no penalties; leave it unset "
        + "or 0", refusal(UnsupportedFeatureException.class, ask().presencePenalty(-1.0)));
    assertEquals("modelName 'gpt-4o' is not served: this model serves 'glm-test' (leave modelName unset)",
        refusal(InvalidRequestException.class, ask().modelName("gpt-4o")));
    assertEquals("messages[0].contents[1] is IMAGE content; GLM text models read TEXT content only",
        refusal(UnsupportedFeatureException.class, ChatRequest.builder().messages(UserMessage.from(
            TextContent.from("look"), ImageContent.from("https://example.invalid/cat.png")))));
    assertEquals("toolChoice REQUIRED needs toolSpecifications, got none",
        refusal(InvalidRequestException.class, ask().toolChoice(ToolChoice.REQUIRED)));
  }

  @Test
  void badValuesAreRefusedWithTheEnginesMessage() {
    assertEquals("topP (1.5) must be in (0, 1]", refusal(InvalidRequestException.class, ask().topP(1.5)));
    assertEquals("default temperature (-1.0) must be finite and >= 0", assertThrows(IllegalArgumentException.class,
        () -> AutoGLMChatModel.builder().autoGLM(glm).temperature(-1.0).build()).getMessage());
    assertEquals("autoGLM is not set: call builder().autoGLM(glm) with a loaded engine",
        assertThrows(IllegalStateException.class, () -> AutoGLMChatModel.builder().build()).getMessage());
    assertThrows(NullPointerException.class, () -> AutoGLMChatModel.builder().autoGLM(null));
  }

  @Test
  void theModelsOwnNameAndZeroPenaltiesAreAccepted() {
    var r = model.chat(ask().modelName(TestEngine.MODEL_ID).frequencyPenalty(0.0).build());
    assertEquals(TestEngine.MODEL_ID, r.modelName());
  }

  @Test
  void toolTurnsTakeTheTemplatesForms() {
    // glm-4-9b-chat: a call is an assistant turn named by metadata, a result is an observation
    ChatRequests requests = ChatRequests.of(glm, java.util.Optional.empty(), "u");
    ToolExecutionRequest call = ToolExecutionRequest.builder().id("call_1").name("f").arguments("{\"x\":1}").build();
    ToolSpecification f = ToolSpecification.builder().name("f").build();
    TextRequest r = requests.toTextRequest(ChatRequest.builder().messages(UserMessage.from("q"),
        AiMessage.from(call), ToolExecutionResultMessage.from(call, "42")).toolSpecifications(f)
        .toolChoice(ToolChoice.REQUIRED).build());
    assertEquals(List.of(ChatMessage.user("q"), new ChatMessage("assistant", "{\"x\":1}", Map.of("metadata", "f")),
        new ChatMessage("observation", "42", Map.of("tool_call_id", "call_1", "name", "f"))),
        r.chat().orElseThrow().messages());
    assertEquals("tool call call_2 (f) arguments must be a JSON object, got 'nope'", assertThrows(
        InvalidRequestException.class, () -> requests.toTextRequest(ChatRequest.builder().messages(
            UserMessage.from("q"), AiMessage.from(ToolExecutionRequest.builder().id("call_2").name("f")
                .arguments("nope").build())).build())).getMessage());
    assertNull(r.sampling().responseFormat().orElse(null), "a tool result ends the forced turn");
    TextRequest first = requests.toTextRequest(ChatRequest.builder().messages(UserMessage.from("q"))
        .toolSpecifications(f).toolChoice(ToolChoice.REQUIRED).build());
    assertEquals(io.autoglm.ResponseFormat.Type.TOOL_CALL, first.sampling().responseFormat().orElseThrow().type());
  }
}
