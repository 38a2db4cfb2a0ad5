#!/usr/bin/env bash
# Builds the serving image with buildah (no Docker daemon needed) on the local Debian base.
#
#   bash scripts/image/build.sh                       # cpu target, artifacts/model
#   TARGET=gpu MODEL_DIR=artifacts/model-fp16 bash scripts/image/build.sh
#   BASE=docker.io/library/python:3.11-slim-bookworm@sha256:... bash scripts/image/build.sh
#   SERVICE_REV=HEAD bash scripts/image/build.sh      # newsclf/ + consumer/ as committed at REV
#
# Prints the image reference (IMAGE, default localhost/news-classifier:<version>-<target>).
# BASE defaults to the image scripts/image/base.sh builds (pinned by its digest). A TLS-
# intercepting proxy's CA (PIP_CERT or /etc/ssl/certs/ca-certificates.crt) is handed to pip as a
# build secret, never a layer; PIP_INDEX_URL passes through as a build argument.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/scripts/image/containers.conf}"

TARGET="${TARGET:-cpu}"
MODEL_DIR="${MODEL_DIR:-artifacts/model}"
VERSION="${VERSION:-$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')}"
IMAGE="${IMAGE:-localhost/news-classifier:$VERSION-$TARGET}"
REVISION="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
log() { echo "build.sh: $*" >&2; }

[[ "$TARGET" == cpu || "$TARGET" == gpu ]] || { log "TARGET must be cpu or gpu"; exit 2; }
[[ -f "$MODEL_DIR/manifest.json" ]] || {
    log "$MODEL_DIR has no manifest.json: run 'make export' (or set MODEL_DIR)"; exit 2; }
case "$MODEL_DIR" in
    /*|../*) log "MODEL_DIR must be inside the repository (the build context)"; exit 2 ;;
esac
BASE="${BASE:-$(bash scripts/image/base.sh)}"

CONTEXT="$ROOT"
if [[ -n "${SERVICE_REV:-}" ]]; then
    # The service code from a commit, the image's own files from the working tree.
    CONTEXT="$ROOT/.cache/image/context-$TARGET"
    rm -rf "$CONTEXT"; mkdir -p "$CONTEXT/scripts/image" "$CONTEXT/$(dirname "$MODEL_DIR")"
    git archive "$SERVICE_REV" newsclf consumer | tar -x -C "$CONTEXT"
    cp -r Dockerfile .dockerignore requirements "$CONTEXT/"
    cp scripts/image/healthcheck.py "$CONTEXT/scripts/image/"
    cp -r "$MODEL_DIR" "$CONTEXT/$MODEL_DIR"
    REVISION="$(git rev-parse --short=12 "$SERVICE_REV")"
    log "service code from $SERVICE_REV ($REVISION)"
fi

secret=()
ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
[[ -s "$ca" ]] && secret=(--secret "id=pip_ca,src=$ca")
index=()
[[ -n "${PIP_INDEX_URL:-}" ]] && index=(--build-arg "PIP_INDEX_URL=$PIP_INDEX_URL")

started=$(date +%s)
log "buildah bud --target $TARGET (BASE=$BASE, MODEL_DIR=$MODEL_DIR) -> $IMAGE"
buildah bud --format docker --isolation chroot --layers \
    --target "$TARGET" \
    --build-arg "BASE=$BASE" \
    --build-arg "MODEL_DIR=$MODEL_DIR" \
    --build-arg "VERSION=$VERSION" \
    --build-arg "REVISION=$REVISION" \
    "${secret[@]}" "${index[@]}" \
    --tag "$IMAGE" \
    --file "$CONTEXT/Dockerfile" "$CONTEXT" >&2
log "built $IMAGE in $(($(date +%s) - started)) s; $(podman image ls --format '{{.Size}}' "$IMAGE" 2>/dev/null | head -1)"
echo "$IMAGE"
