/**
 * AutoGLM: GLM-family language models inside the JVM.
 *
 * <p>The API is {@link io.autoglm.AutoGLM} and the records around it ({@code io.autoglm}); the extension points
 * are {@code io.autoglm.spi}. Every other package is internal: exported only to AutoGLM's own modules (the CUDA
 * backend and its tools, the testkit, the Spring starter, the examples), and free to change. On the class path
 * (Java 17 without modules) this descriptor is ignored and nothing changes.
 */
module io.autoglm.core {
  requires transitive micrometer.core; // MeterRegistry is in the builder's and EngineMetrics' signatures
  requires ai.djl.api;
  requires ai.djl.tokenizers;
  requires com.google.gson;
  requires com.github.benmanes.caffeine;
  requires jinjava;
  requires java.desktop; // java.beans, in the EL resolver the templates run on
  requires org.slf4j;

  exports io.autoglm;
  exports io.autoglm.spi;

  exports io.autoglm.backend to io.autoglm.cuda, io.autoglm.cpu, io.autoglm.cuda.bench, io.autoglm.testkit,
      io.autoglm.jmh;
  exports io.autoglm.backend.cpu to io.autoglm.testkit, io.autoglm.jmh;
  exports io.autoglm.grammar to io.autoglm.testkit, io.autoglm.jmh;
  exports io.autoglm.internal to io.autoglm.cuda, io.autoglm.cpu, io.autoglm.cuda.bench, io.autoglm.testkit, io.autoglm.spring,
      io.autoglm.jmh,
      io.autoglm.examples, io.autoglm.langchain4j, io.autoglm.springai;
  exports io.autoglm.kv to io.autoglm.cuda, io.autoglm.cuda.bench, io.autoglm.testkit;
  exports io.autoglm.model to io.autoglm.cuda, io.autoglm.cuda.bench, io.autoglm.testkit, io.autoglm.examples,
      io.autoglm.jmh;
  exports io.autoglm.parallel to io.autoglm.cuda, io.autoglm.cuda.bench, io.autoglm.testkit;
  exports io.autoglm.safetensors to io.autoglm.cuda, io.autoglm.cpu, io.autoglm.cuda.bench, io.autoglm.testkit,
      io.autoglm.jmh;
  exports io.autoglm.sample to io.autoglm.cuda, io.autoglm.cpu, io.autoglm.cuda.bench, io.autoglm.testkit;
  exports io.autoglm.sched to io.autoglm.cuda, io.autoglm.cuda.bench, io.autoglm.testkit, io.autoglm.jmh;
  exports io.autoglm.tokenizer to io.autoglm.spring, io.autoglm.testkit, io.autoglm.examples, io.autoglm.jmh,
      io.autoglm.langchain4j, io.autoglm.springai;
  exports io.autoglm.toolcall; // the parsed answer: ParsedAnswer (its ToolCall and AnswerDelta nested)
  exports io.autoglm.answer to io.autoglm.spring, io.autoglm.testkit, io.autoglm.langchain4j, io.autoglm.springai;

  opens io.autoglm.tokenizer to jinjava; // the chat templates' functions and filters are called reflectively

  uses io.autoglm.backend.ComputeBackendProvider;
  uses io.autoglm.spi.EngineMetrics;
  uses io.autoglm.spi.RateLimiter;
  uses io.autoglm.spi.ResponseCache;

  provides io.autoglm.backend.ComputeBackendProvider with io.autoglm.backend.cpu.CpuBackendProvider;
}
