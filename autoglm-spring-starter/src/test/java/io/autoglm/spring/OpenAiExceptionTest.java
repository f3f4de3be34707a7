package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.autoglm.ContextLengthExceededException;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** Which engine exception becomes which answer: submit-time checks are 400s, failures after admission 500s. */
class OpenAiExceptionTest {
  @SuppressWarnings("unchecked")
  private static Map<String, Object> error(OpenAiException e) {
    return (Map<String, Object>) e.body().get("error");
  }

  @Test
  void failureAfterAdmissionIsAServerErrorWhateverItsType() {
    OpenAiException e = OpenAiException.engineFailure(new CompletionException(
        new IllegalArgumentException("token id 151500 is out of range")));
    assertThat(e.status()).isEqualTo(500);
    assertThat(error(e)).containsEntry("type", "server_error").containsEntry("code", "engine_error");
    assertThat((String) error(e).get("message")).contains("151500");
  }

  @Test
  void promptLongerThanTheContextIsContextLengthExceeded() {
    ContextLengthExceededException tooLong = new ContextLengthExceededException(
        "prompt has 3005 tokens; the context holds 2048, so at most 2047 fit with one generated token", 3005, 2048);
    OpenAiException e = OpenAiException.fromSubmit(new CompletionException(tooLong), "messages");
    assertThat(e.status()).isEqualTo(400);
    assertThat(error(e)).containsEntry("code", "context_length_exceeded").containsEntry("param", "messages")
        .containsEntry("message", tooLong.getMessage());
  }

  @Test
  void otherSubmitTimeArgumentErrorsStayPlain400s() {
    OpenAiException e = OpenAiException.fromSubmit(new IllegalArgumentException("stop strings must not be empty"),
        "prompt");
    assertThat(e.status()).isEqualTo(400);
    assertThat(error(e)).containsEntry("type", "invalid_request_error").containsEntry("code", null)
        .containsEntry("param", null);
  }
}
