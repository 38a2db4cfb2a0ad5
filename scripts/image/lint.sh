#!/usr/bin/env bash
# Static checks of the deployment files, offline, with pinned tools (bash scripts/image/tools.sh):
#   kustomize build of every overlay -> kubeconform -strict against the vendored schemas
#   (k8s/schemas: Kubernetes 1.33 + the KEDA, Prometheus Operator and Strimzi CRDs);
#   checkov (zero failures; each skip carries its reason inline); hadolint; yamllint;
#   promtool check rules on the PrometheusRule.
# Prints one line per check and exits non-zero when any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 2
T="$ROOT/.cache/deploy-tools"
OUT="$ROOT/.cache/deploy/render"
K8S_VERSION=1.33.0
OVERLAYS=(cpu gpu cpu-exactly-once)
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
mkdir -p "$OUT"
failed=0
step() { # step NAME COMMAND...
    local name="$1"; shift
    local t0=$SECONDS log; log=$(mktemp)
    if "$@" >"$log" 2>&1; then
        echo "ok    $name ($((SECONDS - t0)) s)"
    else
        echo "FAIL  $name"; sed 's/^/      /' "$log" | tail -40; failed=1
    fi
    rm -f "$log"
}
for tool in "$T/bin/kustomize" "$T/bin/kubeconform" "$T/venv/bin/checkov" "$T/venv/bin/hadolint" "$T/venv/bin/yamllint"; do
    [[ -x "$tool" ]] || { echo "lint.sh: $tool missing: bash scripts/image/tools.sh" >&2; exit 2; }
done
command -v promtool >/dev/null || { echo "lint.sh: promtool missing: bash scripts/image/tools.sh system" >&2; exit 2; }

rendered=()
for o in "${OVERLAYS[@]}"; do
    step "kustomize build k8s/overlays/$o" sh -c "'$T/bin/kustomize' build k8s/overlays/$o > '$OUT/$o.yaml'"
    rendered+=("$OUT/$o.yaml")
done
step "kubeconform -strict (Kubernetes $K8S_VERSION + CRDs, vendored)" \
    "$T/bin/kubeconform" -strict -summary -kubernetes-version "$K8S_VERSION" \
    -schema-location 'k8s/schemas/kubernetes/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json' \
    -schema-location 'k8s/schemas/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json' \
    "${rendered[@]}"
checkov_files=()
for f in "${rendered[@]}"; do checkov_files+=(-f "$f"); done
step "checkov kubernetes (rendered overlays)" \
    "$T/venv/bin/checkov" --framework kubernetes --skip-download --compact --quiet "${checkov_files[@]}"
step "checkov dockerfile" \
    "$T/venv/bin/checkov" --framework dockerfile --skip-download --compact --quiet -f Dockerfile
step "hadolint Dockerfile" "$T/venv/bin/hadolint" Dockerfile
step "yamllint k8s/ tests/deploy/" "$T/venv/bin/yamllint" -c scripts/image/yamllint.yaml k8s tests/deploy
rules=$(mktemp --suffix=.yaml)
"$T/venv/bin/python" -c "import sys,yaml; yaml.safe_dump(yaml.safe_load(open('k8s/base/prometheusrule.yaml'))['spec'], open(sys.argv[1],'w'), sort_keys=False)" "$rules"
step "promtool check rules (PrometheusRule)" promtool check rules "$rules"
rm -f "$rules"
exit "$failed"
