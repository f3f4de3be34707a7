// Validates rendered Kubernetes manifests (multi-document YAML files given as arguments) against the JSON schemas
// that kubernetes-models compiles from the Kubernetes OpenAPI spec and the KEDA, Gateway API and Prometheus
// Operator CRDs: types, required fields, enums and formats. Unknown fields are not rejected (kubernetes-models'
// schemas allow them, as kubeconform does without -strict). A kind it has no schema for is an error.
// Usage: node deploy/check/validate.mjs FILE... ; exit 1 on any invalid or unknown document.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "keda.sh/v1alpha1": "@kubernetes-models/keda/keda.sh/v1alpha1",
  "gateway.networking.k8s.io/v1": "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

let valid = 0;
let invalid = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length > 0) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      invalid++;
      continue;
    }
    const obj = doc.toJS();
    if (obj == null) {
      continue; // an empty document (a template that rendered nothing)
    }
    const where = `${file}: ${obj.kind} ${obj.metadata?.name} (${obj.apiVersion})`;
    const module = modules[obj.apiVersion];
    const model = module && (await import(module))[obj.kind];
    if (!model) {
      console.error(`${where}: no schema for this apiVersion and kind`);
      invalid++;
      continue;
    }
    try {
      new model(obj).validate();
      valid++;
    } catch (e) {
      console.error(`${where}: ${e.message}`);
      invalid++;
    }
  }
}
console.log(`schema check: ${valid} documents valid, ${invalid} invalid`);
process.exit(invalid === 0 && valid > 0 ? 0 : 1);
