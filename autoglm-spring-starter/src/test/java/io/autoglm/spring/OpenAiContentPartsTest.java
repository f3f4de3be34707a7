package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.autoglm.ChatMessage;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/** Chat content parts reach the core as parts (templates see the list, as transformers passes it); others are 400s. */
class OpenAiContentPartsTest {
  private final OpenAiRequestParser parser = new OpenAiRequestParser(1.0, 4, 64);
  private final JsonMapper json = JsonMapper.builder().build();

  @Test
  void textPartsStayParts() {
    OpenAiRequest r = parser.chat(json.readTree("{\"messages\": [{\"role\": \"user\", \"content\": "
        + "[{\"type\": \"text\", \"text\": \"part one \"}, {\"type\": \"text\", \"text\": \"two\\u0000\"}]}, "
        + "{\"role\": \"assistant\", \"content\": \"plain\"}]}"));
    List<ChatMessage> messages = r.chat().orElseThrow().messages();
    assertThat(messages.get(0).content()).isEqualTo(ChatMessage.Content.parts("part one ", "two\u0000"));
    assertThat(messages.get(1).content()).isEqualTo(ChatMessage.Content.text("plain"));
  }

  @Test
  void imagePartIsRejectedNamingIt() {
    assertThatThrownBy(() -> parser.chat(json.readTree("{\"messages\": [{\"role\": \"user\", \"content\": "
        + "[{\"type\": \"text\", \"text\": \"look\"}, {\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}")))
        .isInstanceOfSatisfying(OpenAiException.class, e -> {
          assertThat(e.param()).contains("messages[0].content[1].type");
          assertThat(e.getMessage()).contains("'image_url'", "only text content parts");
        });
  }
}
