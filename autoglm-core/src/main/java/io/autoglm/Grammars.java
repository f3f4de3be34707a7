package io.autoglm;

import io.autoglm.grammar.GrammarCache;
import io.autoglm.grammar.GrammarMatcher;
import io.autoglm.grammar.JsonGrammar;
import io.autoglm.grammar.TokenVocabulary;
import io.autoglm.tokenizer.GlmTokenizer;
import io.autoglm.answer.AnswerFormat;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The grammars of structured output: compiled once per response format (a cache), matched against the
 * tokenizer's vocabulary (built on the first constrained request, its token trie being large).
 */
final class Grammars {
  private final GrammarCache cache = new GrammarCache(256);
  private final Supplier<GlmTokenizer> tokenizer; // throws when the model folder has no tokenizer
  private final List<Integer> eosTokenIds;
  private TokenVocabulary vocabulary; // guarded by this

  Grammars(Supplier<GlmTokenizer> tokenizer, List<Integer> eosTokenIds) {
    this.tokenizer = tokenizer;
    this.eosTokenIds = List.copyOf(eosTokenIds);
  }

  /**
   * The compiled grammar of a response format, from the cache.
   *
   * @param answer how the chat answer is read; a forced tool call is written in its call syntax
   * @throws IllegalArgumentException for a schema keyword the grammar cannot enforce (the message names it), or a
   *     forced tool call where the answer's calls are not parsed or in a syntax without a call grammar
   * @throws IllegalStateException when the model folder has no tokenizer (masks need its vocabulary)
   */
  JsonGrammar grammar(ResponseFormat format, Optional<AnswerFormat> answer) {
    tokenizer.get();
    return switch (format.type()) {
      case JSON_OBJECT -> cache.anyObject();
      case JSON_SCHEMA -> cache.schema(format.jsonSchema().orElseThrow());
      case TOOL_CALL -> toolCallGrammar(format, answer);
    };
  }

  /** A fresh matcher of the format's grammar over the vocabulary. */
  GrammarMatcher matcher(ResponseFormat format, Optional<AnswerFormat> answer) {
    return grammar(format, answer).matcher(vocabulary());
  }

  private JsonGrammar toolCallGrammar(ResponseFormat format, Optional<AnswerFormat> answer) {
    AnswerFormat.Syntax syntax = answer.map(AnswerFormat::syntax).orElse(AnswerFormat.Syntax.NONE);
    if (syntax == AnswerFormat.Syntax.NONE) {
      throw new IllegalArgumentException("a forced tool call needs a chat request with tools whose calls are parsed "
          + "(TextRequest.withParsing(REASONING_AND_TOOL_CALLS)), got syntax " + syntax);
    }
    if (syntax == AnswerFormat.Syntax.GLM45_XML) {
      throw new IllegalArgumentException("a forced tool call (tool_choice required or a named function) is not "
          + "supported for GLM-4.5's XML call syntax yet; only GLM-4's NAME\\n{JSON} syntax is");
    }
    if (answer.get().startsInThinking()) {
      throw new IllegalArgumentException("a forced tool call cannot be enforced on an answer that starts inside a "
          + "<think> block");
    }
    return cache.toolCallGlm4(format.tools(), format.toolName());
  }

  private synchronized TokenVocabulary vocabulary() {
    if (vocabulary == null) {
      vocabulary = TokenVocabulary.of(tokenizer.get(), eosTokenIds);
    }
    return vocabulary;
  }

  GrammarCache.Stats stats() {
    return cache.stats();
  }

  /**
   * Counters {@code autoglm.grammar.cache.hits} and {@code autoglm.grammar.cache.misses} (compiled-grammar lookups of
   * structured output), tagged {@code gen_ai.request.model}.
   */
  void bindMeters(MeterRegistry registry, String modelId) {
    FunctionCounter.builder("autoglm.grammar.cache.hits", cache, g -> g.stats().hits())
        .tag("gen_ai.request.model", modelId).register(registry);
    FunctionCounter.builder("autoglm.grammar.cache.misses", cache, g -> g.stats().misses())
        .tag("gen_ai.request.model", modelId).register(registry);
  }
}
