"""NEWSCLF_WORKERS: several consumer processes under one supervisor, on a real broker."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from collections import Counter

import pytest

from tests.consumer.service_helpers import (
    bbc_articles,
    encoded,
    service_process,
    service_settings,
    wait_for,
)
from tests.consumer.test_service_kafka import env_for, topics
from tests.fixtures.kafka import consume_all, produce_values

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def log_port(path) -> int | None:
    for line in path.read_text(errors="replace").splitlines():
        if '"http server listening"' in line:
            return int(json.loads(line)["port"])
    return None


def members_with_partitions(path) -> set[str]:
    """The workers whose latest assignment is not empty."""
    latest: dict[str, list[str]] = {}
    for line in path.read_text(errors="replace").splitlines():
        if '"partitions assigned"' in line:
            entry = json.loads(line)
            latest[entry.get("member", "")] = entry.get("partitions") or []
    return {member for member, parts in latest.items() if parts}


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def total(text: str, name: str) -> float:
    return sum(
        float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    )


def test_two_workers_share_the_work_and_sigterm_drains_them_all(
    kafka_bootstrap, tiny_model_dir, tmp_path
):
    t = topics(kafka_bootstrap, partitions=4)
    settings = service_settings(kafka_bootstrap, tiny_model_dir, **t)
    env = {
        **env_for(settings),
        "NEWSCLF_WORKERS": "2",
        "NEWSCLF_CLIENT_ID": "pod",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log = tmp_path / "pod.log"
    articles = bbc_articles(120, step=5)
    pod = service_process(env, log)
    try:
        port = wait_for(lambda: log_port(log), 60, "the pod's HTTP server")
        wait_for(lambda: members_with_partitions(log) == {"pod-w0", "pod-w1"}, 90, "two members")
        produce_values(
            kafka_bootstrap,
            t["input_topic"],
            encoded(articles),
            keys=[a["id"].encode() for a in articles],
        )
        out = consume_all(kafka_bootstrap, t["output_topic"], len(articles), timeout=120)
        wait_for(lambda: scrape(port, "/readyz")[0] == 200, 60, "every worker ready")

        def summed() -> str | None:
            text = scrape(port)[1]
            return text if total(text, "newsclf_messages_total") == len(articles) else None

        metrics = wait_for(summed, 60, "the pod's metrics to add up")
        pod.send_signal(signal.SIGTERM)
        assert pod.wait(timeout=90) == 0, log.read_text()[-3000:]
    finally:
        pod.kill()
    ids = Counter(json.loads(r.value)["id"] for r in out)
    assert ids == Counter(a["id"] for a in articles)
    workers = Counter(dict(r.headers)["classified-by"].decode() for r in out)
    assert set(workers) == {"pod-w0", "pod-w1"}, workers
    assert total(metrics, "newsclf_predictions_total") == len(articles)
    assert "newsclf_model_info" in metrics


def test_a_worker_that_dies_takes_the_pod_down_non_zero(kafka_bootstrap, tiny_model_dir, tmp_path):
    t = topics(kafka_bootstrap, partitions=2)
    settings = service_settings(kafka_bootstrap, tiny_model_dir, **t)
    env = {**env_for(settings), "NEWSCLF_WORKERS": "2", "NEWSCLF_CLIENT_ID": "pod"}
    log = tmp_path / "pod.log"
    pod = service_process(env, log)
    try:
        port = wait_for(lambda: log_port(log), 60, "the pod's HTTP server")
        wait_for(lambda: scrape(port, "/readyz")[0] == 200, 90, "every worker ready")
        pids = wait_for(
            lambda: next(
                (
                    json.loads(line)["pids"]
                    for line in log.read_text().splitlines()
                    if "workers started" in line
                ),
                None,
            ),
            10,
            "the workers' pids",
        )
        os.kill(pids[1], signal.SIGKILL)
        code = pod.wait(timeout=90)
    finally:
        pod.kill()
    assert code != 0
    assert "a worker exited" in log.read_text()
