"""Hot reload, the decision: what a check does with an unchanged, a new, a broken, a pinned or
a relabelled model directory. Real models (the tiny exports), real metrics; the loop is a
stand-in that records the swap (the broker tests in test_reload_kafka.py use the real one)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from consumer.metrics import Metrics
from consumer.model import OnnxClassifier
from consumer.reload import Reloader, directory_signature
from consumer.serving import build_served
from consumer.settings import Settings


class StandInLoop:
    def __init__(self, settings, model):
        self.served = build_served(settings, model)
        self.labels = model.info.labels
        self.swaps = []

    def swap(self, served):
        self.swaps.append(served)
        self.served = served


def point(link: Path, target: Path) -> None:
    """Repoint ``link`` at ``target`` atomically, as a deployment does (ln -sfn + rename)."""
    tmp = link.with_name(link.name + ".new")
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def count(metrics: Metrics, result: str, role: str = "live") -> float:
    value = metrics.registry.get_sample_value(
        "newsclf_model_reloads_total", {"role": role, "result": result}
    )
    return value or 0.0


@pytest.fixture
def setup(tmp_path, tiny_model_dir):
    link = tmp_path / "model"
    link.symlink_to(tiny_model_dir)
    settings = Settings(model_dir=link, review_routing=False, model_watch_s=0)
    loop = StandInLoop(settings, OnnxClassifier.load(link, "cpu", 1))
    metrics = Metrics()
    return (
        link,
        settings,
        loop,
        metrics,
        Reloader(settings, loop, metrics, load=OnnxClassifier.load),
    )


def test_an_unchanged_directory_is_left_alone_and_a_new_model_is_swapped_in(
    setup, tiny_model_dir, tiny_model_dir_int8
):
    link, _, loop, metrics, reloader = setup
    assert reloader.check() is None and loop.swaps == []
    point(link, tiny_model_dir_int8)
    assert reloader.check() == "ok"
    (served,) = loop.swaps
    assert served.info.variant == "int8"
    assert (
        served.routes.model_sha256
        == served.info.sha256
        != OnnxClassifier.load(tiny_model_dir, "cpu", 1).info.sha256
    )
    assert reloader.check() is None  # seen: nothing more to do
    assert reloader.check(force=True) == "ok"  # SIGHUP reloads even so
    assert (count(metrics, "ok"), count(metrics, "refused")) == (2, 0)


def test_a_broken_model_is_refused_once_and_the_old_one_keeps_serving(
    setup, tmp_path, tiny_model_dir_int8, caplog
):
    link, _, loop, metrics, reloader = setup
    serving = loop.served
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir_int8, bad)
    onnx = bad / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-16] + b"\0" * 16)  # not what the manifest says
    point(link, bad)
    assert reloader.check() == "refused"
    assert loop.served is serving and loop.swaps == []
    refusals = [r for r in caplog.records if r.getMessage().startswith("model reload refused")]
    assert len(refusals) == 1 and "sha256" in refusals[0].reason
    assert reloader.check() is None  # not retried until the directory changes
    shutil.copy(tiny_model_dir_int8 / "model.onnx", onnx)  # the copy completes
    assert reloader.check() == "ok"
    assert (count(metrics, "ok"), count(metrics, "refused")) == (1, 1)


def test_a_pinned_service_refuses_any_other_model(tmp_path, tiny_model_dir, tiny_model_dir_int8):
    link = tmp_path / "model"
    link.symlink_to(tiny_model_dir)
    pin = OnnxClassifier.load(link, "cpu", 1).info.manifest_sha256
    settings = Settings(model_dir=link, review_routing=False, model_sha256=pin)
    loop = StandInLoop(settings, OnnxClassifier.load(link, "cpu", 1, pin))
    reloader = Reloader(settings, loop, Metrics(), load=OnnxClassifier.load)
    point(link, tiny_model_dir_int8)
    assert reloader.check() == "refused" and loop.swaps == []


def test_a_model_with_other_labels_is_refused(setup, tmp_path, tiny_model_dir):
    link, _, loop, _, reloader = setup
    loop.labels = ("business", "politics")  # the service was started with another label set
    other = tmp_path / "same"
    shutil.copytree(tiny_model_dir, other)
    point(link, other)
    assert reloader.check() == "refused" and loop.swaps == []


def test_the_signature_follows_the_link_and_the_files():
    assert directory_signature(Path("/nonexistent")) == ""


def test_the_watcher_thread_reloads_on_request_and_stops(setup, tiny_model_dir_int8):
    link, _, loop, metrics, reloader = setup
    reloader.start()
    try:
        point(link, tiny_model_dir_int8)
        reloader.request()
        for _ in range(200):
            if loop.swaps:
                break
            time.sleep(0.05)
    finally:
        reloader.stop()
    assert len(loop.swaps) == 1 and count(metrics, "ok") == 1
    assert json.loads((link / "manifest.json").read_text())["variant"] == "int8"


def test_the_shadow_reloads_from_its_own_directory(tmp_path, tiny_model_dir, tiny_model_dir_int8):
    from consumer.shadow import Shadow, ShadowSlot

    live_link, shadow_link = tmp_path / "model", tmp_path / "shadow"
    live_link.symlink_to(tiny_model_dir)
    shadow_link.symlink_to(tiny_model_dir)
    pin = OnnxClassifier.load(live_link, "cpu", 1).info.manifest_sha256
    settings = Settings(
        model_dir=live_link, shadow_model_dir=shadow_link, review_routing=False, model_sha256=pin
    )
    metrics = Metrics()
    shadow = Shadow(OnnxClassifier.load(shadow_link, "cpu", 1), metrics)
    slot = ShadowSlot(shadow, shadow.info.labels)
    reloader = Reloader(
        settings, slot, metrics, load=OnnxClassifier.load, model_dir=shadow_link, role="shadow"
    )
    point(shadow_link, tiny_model_dir_int8)
    assert reloader.check() == "ok"  # the live pin does not bind the shadow
    assert shadow.info.variant == "int8"
    assert (count(metrics, "ok", "shadow"), count(metrics, "ok")) == (1, 0)
    shown = {
        s.labels["variant"]
        for m in metrics.registry.collect()
        for s in m.samples
        if s.name == "newsclf_shadow_model_info"
    }
    assert shown == {"int8"}
