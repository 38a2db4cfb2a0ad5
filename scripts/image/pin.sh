#!/usr/bin/env bash
# Pins an overlay to a pushed image and its model:
#   bash scripts/image/pin.sh cpu registry.example.com/news-classifier@sha256:<digest> artifacts/model
# sets the overlay's image (by digest) and NEWSCLF_MODEL_SHA256 (the sha256 of the model's
# manifest.json, which the service checks at start-up). `cpu` also pins cpu-exactly-once.
# The digest is the one `podman push --digestfile` (or `docker buildx ... --metadata-file`) reports.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
overlay="$1"; ref="$2"; model="$3"
[[ "$ref" == *@sha256:* ]] || { echo "pin.sh: give the image as NAME@sha256:DIGEST" >&2; exit 2; }
sha=$(sha256sum "$model/manifest.json" | cut -d' ' -f1)
overlays=("$overlay"); [[ "$overlay" == cpu ]] && overlays+=(cpu-exactly-once)
for o in "${overlays[@]}"; do
    (cd "k8s/overlays/$o" && "$ROOT/.cache/deploy-tools/bin/kustomize" edit set image "news-classifier=$ref")
    sed -i -E "s/(NEWSCLF_MODEL_SHA256: )\"[0-9a-f]*\"/\1\"$sha\"/" "k8s/overlays/$o/model.yaml"
    echo "pin.sh: k8s/overlays/$o -> $ref, model $sha"
done
