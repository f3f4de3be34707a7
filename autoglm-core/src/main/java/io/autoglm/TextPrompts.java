package io.autoglm;

import io.autoglm.tokenizer.EncodedPrompt;
import io.autoglm.tokenizer.GlmTokenizer;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.TextRequest.OutputParsing;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Turns a {@link TextRequest} into token ids: renders a chat, encodes, and refuses a text too long up front. */
final class TextPrompts {
  private TextPrompts() {}

  /**
   * A text request, encoded.
   *
   * @param cacheText what identifies the request in the response cache: operation, rendered text, parsing
   * @param format how the answer is parsed, when it is
   */
  record Encoded(List<Integer> ids, String operation, String cacheText, Optional<AnswerFormat> format) {}

  static Encoded encode(TextRequest request, GlmTokenizer tok, int maxModelLen) {
    checkTextBytes(request, tok, maxModelLen);
    int[] ids;
    String rendered;
    String operation;
    if (request.chat().isPresent()) {
      EncodedPrompt e = tok.encodeChat(request.chat().get());
      ids = e.ids();
      rendered = e.text();
      operation = "chat";
    } else {
      rendered = request.prompt().get();
      ids = tok.encode(rendered);
      operation = "text_completion";
    }
    Optional<AnswerFormat> format = Optional.empty();
    if (request.parsing() != OutputParsing.RAW) {
      ChatPrompt chat = request.chat().orElseThrow();
      format = Optional.of(AnswerFormat.detect(tok.chatTemplate().orElseThrow().source(), rendered, chat.tools(),
          request.parsing() == OutputParsing.REASONING_AND_TOOL_CALLS));
    }
    String key = operation + "\u0000" + rendered + (format.isPresent() ? "\u0000" + request.parsing() : "");
    return new Encoded(Arrays.stream(ids).boxed().toList(), operation, key, format);
  }

  /**
   * Refuses, before tokenizing, a text too long for the context whatever its tokens: no token covers more than
   * {@link GlmTokenizer#maxTokenBytes()} bytes, so a text of B UTF-8 bytes has at least B / maxTokenBytes tokens.
   * Chat prompts count their user messages' text only, which every template renders as given.
   */
  private static void checkTextBytes(TextRequest request, GlmTokenizer tok, int maxModelLen) {
    long bytes = request.prompt().map(TextPrompts::utf8Bytes)
        .orElseGet(() -> request.chat().orElseThrow().messages().stream() // user text is rendered verbatim
            .filter(m -> m.role().equals("user")).mapToLong(m -> utf8Bytes(m.content().joined())).sum());
    long minTokens = bytes / Math.max(1, tok.maxTokenBytes());
    if (minTokens >= maxModelLen) {
      throw new ContextLengthExceededException(String.format(
          "prompt has %d bytes of text, so at least %d tokens; the context holds %d, so at most %d fit with one "
              + "generated token", bytes, minTokens, maxModelLen, maxModelLen - 1), minTokens, maxModelLen);
    }
  }

  private static long utf8Bytes(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      n += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3; // a surrogate pair is 4 bytes
    }
    return n;
  }
}
