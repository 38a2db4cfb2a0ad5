#!/usr/bin/env bash
# Regenerates the serving image's lock files from pyproject.toml (the one source of the
# dependency ranges), with sha256 hashes, for CPython 3.11 on linux/amd64 (manylinux 2.28):
#
#   requirements/serve-cpu.txt   pyproject dependencies + [cpu] extra (+ crc32c if missing)
#   requirements/serve-gpu.txt   pyproject dependencies + onnxruntime-gpu[cuda,cudnn] 1.31.x (+ crc32c)
#
#   bash scripts/image/lock.sh            # rewrite both (needs uv: bash scripts/image/tools.sh python)
#   UPGRADE=1 bash scripts/image/lock.sh  # take the newest allowed versions
#
# The Dockerfile installs a lock with `pip install --require-hashes --no-deps --only-binary=:all:`,
# so nothing unpinned or unhashed reaches the image, and a wheel missing for the platform fails
# the build instead of compiling.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
UV="${UV:-$ROOT/.cache/deploy-tools/venv/bin/uv}"
[[ -x "$UV" ]] || { echo "lock.sh: needs uv: bash scripts/image/tools.sh python" >&2; exit 2; }

# crc32c: kafka-python's C CRC-32C (16x faster record checks than its pure-Python fallback),
# added here unless pyproject.toml's dependencies already list it.
EXTRA_SERVE=()
grep -q '"crc32c' pyproject.toml || EXTRA_SERVE=("crc32c>=2.4")
GPU_ORT='onnxruntime-gpu[cuda,cudnn]>=1.31,<1.32'   # CUDA 13 wheels (nvidia-*-cu13)

deps=$(python3 - <<'PY'
import json, tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print(json.dumps({"deps": p["dependencies"], "cpu": p["optional-dependencies"]["cpu"]}))
PY
)

lock() { # lock NAME REQUIREMENT...
    local name="$1"; shift
    mkdir -p .cache/image
    local input=".cache/image/$name.in" tmp="requirements/$name.txt.tmp"
    printf '%s\n' "$@" >"$input"
    # uv keeps the versions already in the output file unless told to upgrade.
    if [[ -f "requirements/$name.txt" && -z "${UPGRADE:-}" ]]; then cp "requirements/$name.txt" "$tmp"; else rm -f "$tmp"; fi
    "$UV" pip compile "$input" --quiet --generate-hashes --no-header --emit-index-url \
        --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        ${UPGRADE:+--upgrade} --output-file "$tmp"
    {
        echo "# The $name image's dependencies, locked with hashes. Do not edit: regenerate with"
        echo "#   bash scripts/image/lock.sh    (UPGRADE=1 for newer versions)"
        echo "# from: $*"
        echo "# CPython 3.11, linux x86_64 (manylinux_2_28). Installed with --require-hashes --no-deps."
        sed '/^--index-url/d' "$tmp"
    } >"requirements/$name.txt"
    rm -f "$tmp"
    echo "lock.sh: requirements/$name.txt: $(grep -c '==' "requirements/$name.txt") packages" >&2
}

mapfile -t base < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])["deps"]))' "$deps")
mapfile -t cpu < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])["cpu"]))' "$deps")
mkdir -p requirements
lock serve-cpu "${base[@]}" "${cpu[@]}" "${EXTRA_SERVE[@]}"
lock serve-gpu "${base[@]}" "$GPU_ORT" "${EXTRA_SERVE[@]}"
