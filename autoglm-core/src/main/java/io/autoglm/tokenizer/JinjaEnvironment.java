package io.autoglm.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.Collection;
import java.util.Map;
import java.util.function.Function;
import jinjava.javax.el.CompositeELResolver;

/**
 * A Jinjava engine set up as transformers sets up Jinja for chat templates: {@code trim_blocks} and
 * {@code lstrip_blocks}, a {@code tojson} that is Python's {@code json.dumps} (not HTML-escaping), Python string
 * methods, and {@code raise_exception}. Values print as they are: text that looks like template code is never run.
 */
final class JinjaEnvironment {
  /** Jinjava's switches that make it behave as Python's Jinja does ({@code {{-} trimming, operator precedence...). */
  private static final LegacyOverrides PYTHON_JINJA = LegacyOverrides.newBuilder()
      .withUseTrimmingForNotesAndExpressions(true)
      .withUseNaturalOperatorPrecedence(true)
      .withEvaluateMapKeys(true)
      .withIterateOverMapKeys(true)
      .withKeepNullableLoopValues(true)
      .withHandleBackslashInQuotesOnly(true)
      .withUsePyishObjectMapper(true)
      .build();

  private JinjaEnvironment() {}

  static Jinjava create() {
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PyStringMethods());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
    JinjavaConfig config = JinjavaConfig.newBuilder()
        .withTrimBlocks(true)
        .withLstripBlocks(true)
        .withElResolver(resolver)
        .withFailOnUnknownTokens(false)
        // Jinjava by default renders again any output that holds "{{": a user's "{{ messages }}" would run as
        // template code. Python's Jinja prints values as they are.
        .withNestedInterpretationEnabled(false)
        .withLegacyOverrides(PYTHON_JINJA)
        .withInterperterFactory(new PythonInterpreterFactory())
        .build();
    Jinjava jinjava = new Jinjava(config);
    jinjava.getGlobalContext().registerFilter(new TojsonFilter());
    jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
        JinjaEnvironment.class, "raiseException", String.class));
    return jinjava;
  }

  /**
   * Prints values as Python's {@code str()} does where Jinjava differs: strings exactly as they are (Jinjava's
   * "pyish" printer JSON-escapes control characters, so a NUL came out as the six characters <code>&#92;u0000</code>),
   * booleans as {@code True}/{@code False}, floats in Python's repr, lists and dicts as Python's repr.
   */
  static final class PythonInterpreter extends JinjavaInterpreter {
    PythonInterpreter(Jinjava jinjava, Context context, JinjavaConfig config) {
      super(jinjava, context, config);
    }

    PythonInterpreter(JinjavaInterpreter parent) {
      super(parent);
    }

    @Override
    public String getAsString(Object value) {
      if (value instanceof String s) {
        return s;
      }
      if (value instanceof Boolean b) {
        return b ? "True" : "False";
      }
      if (value instanceof Double || value instanceof Float) {
        return PythonRepr.floatRepr(((Number) value).doubleValue());
      }
      if (value instanceof Map || value instanceof Collection || value instanceof Object[]) {
        return printUserText(this, value, PythonRepr::repr);
      }
      return super.getAsString(value);
    }
  }

  static final class PythonInterpreterFactory implements InterpreterFactory {
    @Override
    public JinjavaInterpreter newInstance(JinjavaInterpreter parent) {
      return new PythonInterpreter(parent);
    }

    @Override
    public JinjavaInterpreter newInstance(Jinjava jinjava, Context context, JinjavaConfig config) {
      return new PythonInterpreter(jinjava, context, config);
    }
  }

  /**
   * {@code printer} applied to {@code value} as it holds the user's text: when special tokens are hidden behind
   * placeholders ({@link PlaceholderCodec}), the printer sees the restored text (so it escapes the user's characters,
   * not the placeholders') and its output is hidden again.
   */
  static String printUserText(JinjavaInterpreter interpreter, Object value, Function<Object, String> printer) {
    if (interpreter.getContext().get(PlaceholderCodec.CONTEXT_KEY) instanceof PlaceholderCodec codec) {
      return codec.hide(printer.apply(codec.restoreDeep(value)));
    }
    return printer.apply(value);
  }

  /** transformers' {@code raise_exception}: the template rejects its input. */
  public static Object raiseException(String message) {
    throw new TemplateRejection(message);
  }

  /** Thrown by {@code raise_exception}; carried out of the engine and turned into an IllegalArgumentException. */
  static final class TemplateRejection extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TemplateRejection(String message) {
      super(message);
    }
  }

  /** {@code tojson(indent=None, ensure_ascii=False, separators=None, sort_keys=False)} as transformers defines it. */
  static final class TojsonFilter implements Filter {
    @Override
    public String getName() {
      return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return filter(var, interpreter, args, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
      String indentText = indent == null ? null
          : indent instanceof Number n ? " ".repeat(Math.max(0, n.intValue())) : indent.toString();
      String itemSep = indentText == null ? ", " : ",";
      String keySep = ": ";
      Object separators = kwargs.get("separators");
      if (separators instanceof java.util.List<?> seps && seps.size() == 2) {
        itemSep = seps.get(0).toString();
        keySep = seps.get(1).toString();
      }
      boolean ensureAscii = Boolean.TRUE.equals(kwargs.get("ensure_ascii"));
      boolean sortKeys = Boolean.TRUE.equals(kwargs.get("sort_keys"));
      PythonJson json = new PythonJson(indentText, itemSep, keySep, ensureAscii, sortKeys);
      return printUserText(interpreter, var, json::dumps);
    }
  }
}
