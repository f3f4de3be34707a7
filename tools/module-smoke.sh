#!/usr/bin/env bash
# Runs autoglm-core as a named module (io.autoglm.core) on the module path: a small module (tools/module-smoke)
# that requires it loads the glm-tiny fixture on the CPU backend (found through the descriptor's `provides`),
# renders a chat with the real GLM-4 template (Jinjava, through `opens io.autoglm.tokenizer to jinjava`) and
# generates 4 tokens.
#
# Two dependencies cannot be modules and go on the class path: pytorch-native-cpu (its Automatic-Module-Name is
# not a Java name) and com.google.code.findbugs:annotations (it splits javax.annotation with jsr305, both under
# jinjava). Jinjava is an automatic module, so the explicit modules it uses (Jackson) need --add-modules.
#
# Usage: tools/module-smoke.sh   (after `mvn -pl autoglm-core compile`; needs ../shared/fixtures)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures=${AUTOGLM_FIXTURES:-$root/../shared/fixtures}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root/autoglm-core" && mvn -B -ntp -o -q dependency:build-classpath -Dmdep.includeScope=compile \
  -Dmdep.outputFile="$work/cp" >/dev/null)
mp=$(tr ':' '\n' < "$work/cp" | grep -v -E 'pytorch-native|/annotations-3\.' | paste -sd:)
cp=$(tr ':' '\n' < "$work/cp" | grep -E 'pytorch-native|/annotations-3\.' | paste -sd:)
javac -d "$work/out/smoke" -p "$mp:$root/autoglm-core/target/classes" \
  "$root/tools/module-smoke/module-info.java" "$root/tools/module-smoke/smoke/Main.java"
DJL_OFFLINE=true java -p "$mp:$root/autoglm-core/target/classes:$work/out" --add-modules ALL-MODULE-PATH \
  -cp "$cp" -m smoke/smoke.Main "$fixtures/models/glm-tiny" "$fixtures/tokenizers/glm-4-9b-chat-hf"
