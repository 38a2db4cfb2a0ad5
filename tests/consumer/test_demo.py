"""`make demo`'s driver, end to end on a real broker with the tiny test model."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from devkit import demo

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_demo_streams_heldout_articles_and_dead_letters(
    kafka_bootstrap, tiny_checkpoint, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    artifacts = tmp_path / "artifacts"
    shutil.copytree(tiny_checkpoint, artifacts / "checkpoint")
    shutil.copytree(tiny_model_dir, artifacts / "model")
    later = time.time() + 5  # the export is newer than the checkpoint: both are reused
    os.utime(artifacts / "model" / "manifest.json", (later, later))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.delenv("NEWSCLF_BOOTSTRAP_SERVERS", raising=False)

    code = demo.main(
        ["--artifacts", str(artifacts), "--count", "12", "--rate", "0", "--metrics-port", "0"]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "reusing the trained checkpoint" in out and "reusing the exported model" in out
    assert "classified 12 held-out articles and 4 in other languages" in out
    assert f"{len(demo.MALFORMED)} malformed records sent to news.dlq" in out
    assert sum(line.startswith("heldout-") for line in out.splitlines()) == 12
    foreign = [line for line in out.splitlines() if line.startswith("foreign-")]
    assert len(foreign) == 4
    assert all("review: unsupported_language" in line for line in foreign), foreign
    assert "nothing left running" in out
