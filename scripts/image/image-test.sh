#!/usr/bin/env bash
# `make image-test`: build the serving image for real and run it against a broker.
#   1. base image from Debian packages (debootstrap + buildah), pinned by digest (cached)
#   2. the model and articles: the tiny test model, its held-out BBC articles (cached)
#   3. buildah bud --target cpu on that base (dependency layers cached)
#   4. scripts/image/smoke.py: embedded broker on loopback, the image run read-only as uid 10001,
#      real articles classified, dead letters, probes, metrics, SIGTERM -> exit 0
#
#   TARGETS="cpu gpu" make image-test     # also the GPU image (2.8 GB; runs on its CPU fallback)
#   SERVICE_REV=HEAD make image-test      # the service code as committed
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/scripts/image/containers.conf}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
TARGETS="${TARGETS:-cpu}"
t0=$SECONDS
times=()
stamp() { times+=("$1: $((SECONDS - $2)) s"); }

for tool in buildah podman runc debootstrap; do
    command -v "$tool" >/dev/null || { echo "image-test: $tool missing: bash scripts/image/tools.sh system" >&2; exit 2; }
done

t=$SECONDS; BASE=$(bash scripts/image/base.sh); stamp "base image" "$t"
t=$SECONDS; read -r MODEL_DIR ARTICLES < <("$PY" scripts/image/stage_model.py); stamp "model" "$t"
status=0
for target in $TARGETS; do
    image="localhost/news-classifier:image-test-$target"
    t=$SECONDS
    BASE="$BASE" TARGET="$target" MODEL_DIR="$MODEL_DIR" IMAGE="$image" bash scripts/image/build.sh >/dev/null
    stamp "build $target" "$t"
    provider=cpu; [[ "$target" == gpu ]] && provider=auto   # no GPU here: the CUDA provider falls back
    t=$SECONDS
    "$PY" scripts/image/smoke.py --image "$image" --articles "$ARTICLES" --provider "$provider" || status=1
    stamp "run $target" "$t"
done
echo "image-test: $(IFS=';'; echo "${times[*]}"); total $((SECONDS - t0)) s"
exit "$status"
