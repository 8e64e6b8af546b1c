#!/usr/bin/env bash
# Checks the Kubernetes manifests without a cluster: renders them (kubectl kustomize when kubectl is
# there, else the files as listed in kustomization.yaml), validates every object against the
# Kubernetes 1.27 JSON schemas (npm package kubernetes-models, installed into a temporary folder),
# and cross-checks what schemas cannot see: selectors match pod labels, Services reach named
# container ports, the StatefulSet's headless Service exists, ConfigMaps and claims referred to
# exist, every tcp://host:port in ODAC_* addresses names a Service (or a StatefulSet pod under its
# headless Service) and one of its ports, and each container runs an odac program.
# Needs node and npm (Node.js 20 or later). Exit 0 when every check passes.
#   deploy/k8s/validate.sh [DIR]   (DIR: a kustomization, default deploy/k8s; e.g. the manifests
#                                   of `odac experiment SPEC --k8s DIR`)
set -euo pipefail
here=$(cd "${1:-$(dirname "$0")}" && pwd)
tmp=$(mktemp -d /tmp/odac-k8s-validate.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if command -v kubectl >/dev/null && kubectl kustomize "$here" >"$tmp/all.yaml" 2>"$tmp/kustomize.err"; then
  echo "validate: rendered with kubectl kustomize"
else
  [ -s "$tmp/kustomize.err" ] && cat "$tmp/kustomize.err" >&2
  : >"$tmp/all.yaml"
  for f in $(sed -n 's/^  - \(.*\.yaml\)$/\1/p' "$here/kustomization.yaml"); do
    { cat "$here/$f"; echo "---"; } >>"$tmp/all.yaml"
  done
  echo "validate: kubectl not available; checking the files as listed in kustomization.yaml"
fi
# Manifests beside the kustomization that it does not list (an experiment's report.yaml, applied
# later by hand) are checked with the rest.
for f in "$here"/*.yaml; do
  b=$(basename "$f")
  [ "$b" = kustomization.yaml ] && continue
  grep -q "^  - $b\$" "$here/kustomization.yaml" && continue
  echo "validate: also $b (not in kustomization.yaml)"
  { echo "---"; cat "$f"; } >>"$tmp/all.yaml"
done
(cd "$tmp" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
  kubernetes-models@5.1.0 yaml@2 >/dev/null 2>"$tmp/npm.err") ||
  { cat "$tmp/npm.err" >&2; exit 1; }
cat >"$tmp/validate.mjs" <<'JS'
import fs from "node:fs";
import { parseAllDocuments } from "yaml";
const models = {
  v1: await import("kubernetes-models/v1"),
  "apps/v1": await import("kubernetes-models/apps/v1"),
  "batch/v1": await import("kubernetes-models/batch/v1"),
};
const objs = parseAllDocuments(fs.readFileSync(process.argv[2], "utf8"))
  .map((d) => d.toJS()).filter((o) => o);
let failures = 0;
const fail = (msg) => { failures++; console.log(`FAIL ${msg}`); };
const name = (o) => `${o.kind}/${o.metadata?.name}`;
for (const o of objs) {
  const Model = models[o.apiVersion]?.[o.kind];
  if (!Model) { fail(`${name(o)}: no schema for ${o.apiVersion}`); continue; }
  try { new Model(o).validate(); } catch (e) { fail(`${name(o)}: ${e.message}`); }
}
const byKind = (k) => objs.filter((o) => o.kind === k);
const workloads = objs.filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind));
const podLabels = (w) => w.spec.template.metadata?.labels ?? {};
const matches = (sel, labels) => Object.entries(sel).every(([k, v]) => labels[k] === v);
const programs = ["odac", "odac-learner", "odac-replay", "odac-actor"];
for (const w of workloads) {
  const sel = w.spec.selector?.matchLabels;
  if (w.kind !== "Job" && (!sel || !matches(sel, podLabels(w))))
    fail(`${name(w)}: selector does not match its pod labels`);
  for (const c of w.spec.template.spec.containers) {
    const prog = (c.command ?? c.args ?? [])[0];
    if (!programs.includes(prog)) fail(`${name(w)}: container ${c.name} runs '${prog}'`);
    for (const ref of c.envFrom ?? [])
      if (ref.configMapRef && !byKind("ConfigMap").some((m) => m.metadata.name === ref.configMapRef.name))
        fail(`${name(w)}: no ConfigMap ${ref.configMapRef.name}`);
  }
  for (const v of w.spec.template.spec.volumes ?? []) {
    if (v.configMap && !byKind("ConfigMap").some((m) => m.metadata.name === v.configMap.name))
      fail(`${name(w)}: no ConfigMap ${v.configMap.name}`);
    if (v.persistentVolumeClaim &&
        !byKind("PersistentVolumeClaim").some((p) => p.metadata.name === v.persistentVolumeClaim.claimName))
      fail(`${name(w)}: no PersistentVolumeClaim ${v.persistentVolumeClaim.claimName}`);
  }
  // An Indexed Job runs one pod per index: completions must be set and parallelism no larger.
  if (w.kind === "Job" && w.spec.completionMode === "Indexed" &&
      !(w.spec.completions >= 1 && (w.spec.parallelism ?? 1) <= w.spec.completions))
    fail(`${name(w)}: an Indexed Job needs completions >= 1 and parallelism <= completions`);
  for (const c of w.spec.template.spec.containers)
    for (const m of c.volumeMounts ?? [])
      if (![...(w.spec.template.spec.volumes ?? []), ...(w.spec.volumeClaimTemplates ?? []).map((t) => t.metadata)]
          .some((v) => v.name === m.name))
        fail(`${name(w)}: container ${c.name} mounts ${m.name}, which is no volume of the pod`);
  if (w.kind === "StatefulSet") {
    const svc = byKind("Service").find((s) => s.metadata.name === w.spec.serviceName);
    if (!svc || svc.spec.clusterIP !== "None") fail(`${name(w)}: serviceName is not a headless Service`);
  }
}
// The workload whose pods a Service selects, and the Service's port numbers.
const target = (svc) => workloads.find((w) => matches(svc.spec.selector ?? {}, podLabels(w)));
for (const svc of byKind("Service")) {
  const w = target(svc);
  if (!w) { fail(`${name(svc)}: selects no workload`); continue; }
  const ports = w.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
  for (const p of svc.spec.ports) {
    const t = p.targetPort ?? p.port;
    if (!ports.some((cp) => cp.name === t || cp.containerPort === t))
      fail(`${name(svc)}: port ${p.name} targets ${t}, which ${name(w)} does not expose`);
  }
}
// tcp://host:port in ODAC_* settings: host is <service> or <statefulset>-<k>.<headless service>.
for (const w of workloads)
  for (const c of w.spec.template.spec.containers)
    for (const e of c.env ?? [])
      for (const ep of String(e.value ?? "").split(",")) {
        const m = /^tcp:\/\/([^*:]+):(\d+)$/.exec(ep);
        if (!m) continue;
        const [host, port] = [m[1], Number(m[2])];
        const parts = host.split(".");
        const svc = byKind("Service").find((s) => s.metadata.name === parts[parts.length - 1]);
        if (!svc) { fail(`${name(w)}: ${e.name} ${ep}: no Service ${parts[parts.length - 1]}`); continue; }
        if (parts.length === 2) {
          const sts = byKind("StatefulSet").find((s) => s.spec.serviceName === svc.metadata.name);
          const k = /^(.*)-(\d+)$/.exec(parts[0]);
          if (!sts || !k || k[1] !== sts.metadata.name || Number(k[2]) >= sts.spec.replicas)
            fail(`${name(w)}: ${e.name} ${ep}: no pod ${parts[0]} behind ${svc.metadata.name}`);
        }
        if (!svc.spec.ports.some((p) => p.port === port))
          fail(`${name(w)}: ${e.name} ${ep}: Service ${svc.metadata.name} has no port ${port}`);
      }
console.log(`validate: ${objs.length} objects; ${failures ? failures + " problem(s)" : "all checks passed"}`);
process.exit(failures ? 1 : 0);
JS
(cd "$tmp" && node validate.mjs all.yaml)
