"""Stage the model `make image-test` bakes into the image, and the articles it streams.

    .venv/bin/python scripts/image/stage_model.py        # prints: MODEL_DIR ARTICLES

MODEL_DIR defaults to the tiny test model (a 1-layer MiniLM fine-tuned on a slice of BBC News,
exported to ONNX by the same code as `python -m export`; built once and cached in
.cache/test-models/ by the test fixtures), copied into artifacts/.image-test-model so that it is
inside the build context. ARTICLES is that checkpoint's held-out split: real BBC articles the
model never saw, with their labels. IMAGE_TEST_MODEL=artifacts/model uses your own export instead
(with IMAGE_TEST_ARTICLES=<jsonl with text and label>).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
STAGED = REPO / "artifacts" / ".image-test-model"


def main() -> int:
    own = os.environ.get("IMAGE_TEST_MODEL")
    if own:
        articles = os.environ.get("IMAGE_TEST_ARTICLES")
        if not articles:
            print("stage_model: IMAGE_TEST_MODEL needs IMAGE_TEST_ARTICLES", file=sys.stderr)  # noqa: T201 (a command-line tool's output)
            return 2
        print(own, articles)  # noqa: T201 (a command-line tool's output)
        return 0
    from tests.fixtures.checkpoints import build_tiny_checkpoint
    from tests.fixtures.models import build_tiny_model_dir

    checkpoint = build_tiny_checkpoint()
    model = build_tiny_model_dir(checkpoint)
    fresh = (model / "manifest.json").read_bytes()
    if not (STAGED / "manifest.json").is_file() or (STAGED / "manifest.json").read_bytes() != fresh:
        shutil.rmtree(STAGED, ignore_errors=True)
        shutil.copytree(model, STAGED)
        for path in [STAGED, *STAGED.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    print(STAGED.relative_to(REPO), checkpoint / "heldout.jsonl")  # noqa: T201 (a command-line tool's output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
