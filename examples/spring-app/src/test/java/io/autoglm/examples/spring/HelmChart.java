package io.autoglm.examples.spring;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** deploy/helm/autoglm rendered by Helm itself (helm-java: Helm's Go library in the JVM), as parsed documents. */
final class HelmChart {
  static final Path DIR = SampleApp.repoRoot().resolve("deploy/helm/autoglm");

  /** What {@code helm template} printed and its documents, in order. */
  record Rendered(String text, List<Map<String, Object>> docs) {
    /** The one document of {@code kind}; fails when there is none or several. */
    Map<String, Object> one(String kind) {
      List<Map<String, Object>> found = all(kind);
      if (found.size() != 1) {
        throw new AssertionError("expected one " + kind + ", rendered " + found.size() + ":\n" + text);
      }
      return found.get(0);
    }

    List<Map<String, Object>> all(String kind) {
      return docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
    }

    List<String> kinds() {
      return docs.stream().map(d -> (String) d.get("kind")).toList();
    }
  }

  /** {@code helm template RELEASE deploy/helm/autoglm -n NAMESPACE --set K=V ...}. */
  static Rendered template(String release, String namespace, Map<String, Object> sets) {
    TemplateCommand t = new Helm(DIR).template().withName(release).withNamespace(namespace);
    sets.forEach(t::set);
    String text = t.call();
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object doc : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(text)) {
      if (doc != null) {
        docs.add(map(doc));
      }
    }
    return new Rendered(text, docs);
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    return (Map<String, Object>) Objects.requireNonNull(o, "missing object");
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    return (List<Object>) Objects.requireNonNull(o, "missing list");
  }

  /** {@code doc} at a dotted path of map keys and list indexes, e.g. {@code spec.template.spec.containers.0}. */
  static Object at(Object doc, String path) {
    Object o = doc;
    for (String key : path.split("\\.")) {
      if (o instanceof List<?> l) {
        o = l.get(Integer.parseInt(key));
      } else if (o instanceof Map<?, ?> m) {
        if (!m.containsKey(key)) {
          throw new AssertionError("no '" + key + "' in " + path + ": " + m.keySet());
        }
        o = m.get(key);
      } else {
        throw new AssertionError("'" + key + "' of " + path + " under a " + o);
      }
    }
    return o;
  }

  /** The parsed application.yaml of the chart's ConfigMap. */
  static Map<String, Object> applicationYaml(Rendered r) {
    String yaml = (String) map(r.one("ConfigMap").get("data")).get("application.yaml");
    return map(new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml));
  }

  static Map<String, Object> sets(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private HelmChart() {}
}
