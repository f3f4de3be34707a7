/**
 * Reads chat answers: which syntax a chat template's answers use ({@link io.autoglm.answer.AnswerFormat}), and the
 * streaming parser that splits an answer into content, reasoning and tool calls
 * ({@link io.autoglm.answer.AnswerParser}). Internal: the results are {@code io.autoglm.toolcall}'s types.
 *
 * <p>Rules, chosen to agree with vLLM's glm45 reasoning and glm4_moe tool parsers where those agree with themselves:
 * <ul>
 *   <li>Thinking: {@code <think>} at the start of the answer (after whitespace), or a prompt ending with
 *       {@code <think>}, opens the block; {@code </think>} closes it. A well-formed {@code <tool_call>} inside the
 *       block also closes it and is a call: vLLM parses such a call when not streaming (no {@code </think>}, all
 *       text is content) but streams it as reasoning, so the two disagree; here both give the call.</li>
 *   <li>GLM-4.5 calls may stand anywhere after the thinking; text between and after calls stays content (vLLM
 *       drops it). A call is held whole until {@code </tool_call>}: only then can it be checked, so its start and
 *       its arguments arrive together, as vLLM streams them. An unclosed call at the end is text.</li>
 *   <li>GLM-4 calls fill the whole answer, so an answer whose first line is a tool's name followed by {@code {} is
 *       held to the end.</li>
 *   <li>Whitespace that separates parts (leading content, after {@code </think>}, around a call) is dropped;
 *       reasoning text is kept as the model wrote it.</li>
 * </ul>
 */
package io.autoglm.answer;
