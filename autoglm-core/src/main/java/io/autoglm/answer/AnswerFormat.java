package io.autoglm.answer;

import java.util.List;
import java.util.Map;

/**
 * How to read a chat model's answer: which call syntax its template taught it, whether it thinks in a
 * {@code <think>} block, and whether generation already starts inside that block. Decided from the chat template
 * and the rendered prompt, never from the model's name.
 *
 * @param syntax           the call syntax to recognise; {@link Syntax#NONE} leaves calls as text
 * @param thinking         the answer may hold a {@code <think>…</think>} block
 * @param startsInThinking the rendered prompt ended with {@code <think>}, so the answer begins inside the block
 * @param tools            the tools on offer in the OpenAI shape; their parameter schemas type GLM-4.5 argument
 *                         values and their names mark GLM-4 calls
 */
public record AnswerFormat(Syntax syntax, boolean thinking, boolean startsInThinking,
    List<Map<String, Object>> tools) {
  /** A model's tool-call syntax. */
  public enum Syntax {
    /** No calls are parsed. */
    NONE,
    /**
     * GLM-4.5 / 4.6: {@code <tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>…</tool_call>}, anywhere
     * in the answer, several allowed.
     */
    GLM45_XML,
    /**
     * GLM-4-9B-chat / GLM-4-0414: the whole answer is {@code NAME\n{JSON arguments}} with NAME one of the tools (a
     * second call follows directly, its {@code <|assistant|>} separator being a skipped special token).
     */
    GLM4_JSON
  }

  public AnswerFormat {
    if (syntax == null || tools == null) {
      throw new IllegalArgumentException("syntax and tools must not be null");
    }
    if (startsInThinking && !thinking) {
      throw new IllegalArgumentException("startsInThinking needs thinking (an answer cannot begin inside a block "
          + "its format does not have)");
    }
    tools = List.copyOf(tools);
  }

  /** Raw text: no thinking block, no calls. */
  public static AnswerFormat raw() {
    return new AnswerFormat(Syntax.NONE, false, false, List.of());
  }

  /**
   * The format of a chat answer. A template that writes {@code <arg_key>} taught GLM-4.5's XML calls, any other
   * GLM-4's {@code NAME\n{JSON}}; calls are parsed only when {@code parseCalls} and tools are on offer. A template
   * that mentions {@code <think>} (GLM-4.5, GLM-Z1) has thinking blocks; the answer starts inside one when the
   * rendered prompt ends with {@code <think>} (a generation prompt that opens the block).
   *
   * @param templateSource the chat template's Jinja source
   * @param renderedPrompt the prompt as the template rendered it
   * @param tools          the request's tools
   * @param parseCalls     false for {@code tool_choice: none}
   */
  public static AnswerFormat detect(String templateSource, String renderedPrompt, List<Map<String, Object>> tools,
      boolean parseCalls) {
    Syntax syntax = !parseCalls || tools.isEmpty() ? Syntax.NONE
        : templateSource.contains("<arg_key>") ? Syntax.GLM45_XML : Syntax.GLM4_JSON;
    boolean thinking = thinks(templateSource);
    boolean starts = thinking && renderedPrompt.stripTrailing().endsWith("<think>");
    return new AnswerFormat(syntax, thinking, starts, tools);
  }

  /** Whether answers of this chat template may hold a thinking block: it mentions {@code <think>} (GLM-4.5, GLM-Z1). */
  public static boolean thinks(String templateSource) {
    return templateSource.contains("<think>");
  }
}
