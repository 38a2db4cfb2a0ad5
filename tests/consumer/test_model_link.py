"""``make model-promote`` / ``model-rollback`` (scripts/model-link.sh): the symlink the service
serves is repointed in one rename, the previous target remembered, and a running service's
reloader sees each change."""

from __future__ import annotations

import subprocess
from pathlib import Path

from consumer.metrics import Metrics
from consumer.model import OnnxClassifier
from consumer.reload import Reloader
from consumer.settings import Settings
from tests.consumer.test_reload import StandInLoop

SCRIPT = Path(__file__).resolve().parents[2] / "scripts/model-link.sh"


def link_sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_promote_then_roll_back_and_the_service_follows(
    tmp_path, tiny_model_dir, tiny_model_dir_int8
):
    link = tmp_path / "model"
    assert link_sh("promote", tiny_model_dir, link).returncode == 0
    assert link.resolve() == tiny_model_dir.resolve()
    settings = Settings(model_dir=link, review_routing=False, model_watch_s=0)
    loop = StandInLoop(settings, OnnxClassifier.load(link, "cpu", 1))
    reloader = Reloader(settings, loop, Metrics(), load=OnnxClassifier.load)

    done = link_sh("promote", tiny_model_dir_int8, link)
    assert done.returncode == 0 and "previous:" in done.stdout
    assert (link.resolve(), (tmp_path / "model.previous").resolve()) == (
        tiny_model_dir_int8.resolve(),
        tiny_model_dir.resolve(),
    )
    assert reloader.check() == "ok" and loop.served.info.variant == "int8"

    assert link_sh("rollback", link).returncode == 0
    assert link.resolve() == tiny_model_dir.resolve()
    assert (tmp_path / "model.previous").resolve() == tiny_model_dir_int8.resolve()
    assert reloader.check() == "ok" and loop.served.info.variant == "fp32"


def test_what_is_not_a_model_or_not_a_link_is_refused_in_one_line(tmp_path, tiny_model_dir):
    (tmp_path / "empty").mkdir()
    refused = link_sh("promote", tmp_path / "empty", tmp_path / "model")
    assert refused.returncode == 2 and "has no manifest.json" in refused.stderr
    real = tmp_path / "real"
    real.mkdir()
    refused = link_sh("promote", tiny_model_dir, real)
    assert refused.returncode == 2 and "is a directory, not a symlink" in refused.stderr
    refused = link_sh("rollback", tmp_path / "model")
    assert refused.returncode == 2 and "no " in refused.stderr and "previous" in refused.stderr
