"""Verified monitoring: a real Prometheus scrapes the real service while it classifies real
articles through a real broker, then every Grafana dashboard query and every alerting/recording
rule is evaluated through Prometheus's HTTP API.

- each dashboard expression returns data (``$namespace``, ``$__rate_interval`` and ``$__range`` filled in the
  way Grafana would);
- each rule of the PrometheusRule has been evaluated by Prometheus with health "ok", and each
  alert expression evaluates without error when queried directly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.samples import FOREIGN_ARTICLES
from tests.fixtures.kafka import consume_all, make_topic, produce_values

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "k8s" / "base" / "grafana" / "news-classifier.json"
RULE = REPO / "k8s" / "base" / "prometheusrule.yaml"
NAMESPACE = "news-classifier"
JOB = "news-classifier-metrics"

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


def query(base: str, expr: str) -> dict[str, Any]:
    return get_json(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$namespace", NAMESPACE)
            expr = expr.replace("$__rate_interval", "15s").replace("$__interval", "5s")
            expr = expr.replace("$__range", "1m")
            out.append((panel["title"], expr))
    return out


@pytest.fixture
def service(kafka_bootstrap: str, tiny_model_dir: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    topics = {
        "input": make_topic(kafka_bootstrap, 2, prefix="prom-in"),
        "output": make_topic(kafka_bootstrap, 1, prefix="prom-out"),
        "dlq": make_topic(kafka_bootstrap, 1, prefix="prom-dlq"),
        "review": make_topic(kafka_bootstrap, 1, prefix="prom-review"),
    }
    port = free_port()
    env = {
        **os.environ,
        "NEWSCLF_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NEWSCLF_MODEL_DIR": str(tiny_model_dir),
        # The same model as a shadow, so the shadow panels have data (all agree).
        "NEWSCLF_SHADOW_MODEL_DIR": str(tiny_model_dir),
        "NEWSCLF_INPUT_TOPIC": topics["input"],
        "NEWSCLF_OUTPUT_TOPIC": topics["output"],
        "NEWSCLF_DLQ_TOPIC": topics["dlq"],
        "NEWSCLF_REVIEW_TOPIC": topics["review"],
        # The held-out articles are labelled (the test model is unsure of many); the articles
        # in other languages go to review, so the review panels have data of both kinds.
        "NEWSCLF_REVIEW_THRESHOLD": "0",
        "NEWSCLF_GROUP_ID": f"prom-live-{suffix}",
        "NEWSCLF_CLIENT_ID": f"prom-live-{suffix}",
        "NEWSCLF_METRICS_HOST": "127.0.0.1",
        "NEWSCLF_METRICS_PORT": str(port),
        "NEWSCLF_SESSION_TIMEOUT_MS": "6000",
        "NEWSCLF_HEARTBEAT_INTERVAL_MS": "500",
        "NEWSCLF_LOG_FORMAT": "text",
    }
    log = (tmp_path / "service.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "consumer"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(
            lambda: (
                proc.poll() is None
                and urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status
                == 200
            ),
            120,
            "the service's /healthz",
        )
        yield {"port": port, "topics": topics, "proc": proc, "log": tmp_path / "service.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def prometheus(prometheus_bin: str, service: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    spec = yaml.safe_load(RULE.read_text())["spec"]
    for group in spec["groups"]:  # evaluate as often as the test scrapes
        group["interval"] = "1s"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yaml")],
        "scrape_configs": [
            {
                "job_name": JOB,
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{service['port']}"],
                        # what the ServiceMonitor's target labels give in a cluster
                        "labels": {"namespace": NAMESPACE, "pod": "news-classifier-test-0"},
                    }
                ],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: query(base, f'up{{job="{JOB}"}} == 1')["data"]["result"],
            60,
            "Prometheus to scrape the service",
        )
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_dashboard_and_alert_queries_against_a_live_scrape(
    kafka_bootstrap: str, tiny_checkpoint: Path, service: dict[str, Any], prometheus: str
) -> None:
    rows = [
        json.loads(line) for line in (tiny_checkpoint / "heldout.jsonl").read_text().splitlines()
    ]
    articles = [{"id": f"prom-{i}", "text": r["text"]} for i, r in enumerate(rows)]
    foreign = [{k: v for k, v in a.items() if k != "language"} for a in FOREIGN_ARTICLES]
    produce_values(kafka_bootstrap, service["topics"]["input"], [*articles, *foreign, b"not json"])
    out = consume_all(kafka_bootstrap, service["topics"]["output"], len(articles), timeout=120)
    assert len(out) == len(articles), service["log"].read_text()[-2000:]
    review = consume_all(kafka_bootstrap, service["topics"]["review"], len(foreign), timeout=60)
    assert len(review) == len(foreign), service["log"].read_text()[-2000:]
    consume_all(kafka_bootstrap, service["topics"]["dlq"], 1, timeout=60)

    # Enough scrapes after the traffic for rates over a 15 s window, and rule evaluations.
    wait_for(
        lambda: (
            float(
                (
                    query(prometheus, 'sum(newsclf_messages_total{outcome="classified"})')["data"][
                        "result"
                    ]
                    or [{"value": [0, "0"]}]
                )[0]["value"][1]
            )
            >= len(articles)
        ),
        60,
        "the classified count in Prometheus",
    )
    time.sleep(4)

    empty = []
    for title, expr in dashboard_queries():
        answer = query(prometheus, expr)
        assert answer["status"] == "success", (title, expr, answer)
        if not answer["data"]["result"]:
            empty.append(f"{title}: {expr}")
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

    values = get_json(
        f"{prometheus}/api/v1/label/namespace/values?"
        + urllib.parse.urlencode({"match[]": "newsclf_messages_total"})
    )
    assert NAMESPACE in values["data"], "the dashboard's $namespace variable would be empty"

    rules = wait_for(
        lambda: [
            r for g in get_json(f"{prometheus}/api/v1/rules")["data"]["groups"] for r in g["rules"]
        ],
        30,
        "rules loaded",
    )
    spec = yaml.safe_load(RULE.read_text())["spec"]
    declared = [r for g in spec["groups"] for r in g["rules"]]
    assert len(rules) == len(declared)
    wait_for(
        lambda: all(
            r["health"] == "ok"
            for g in get_json(f"{prometheus}/api/v1/rules")["data"]["groups"]
            for r in g["rules"]
        ),
        20,
        "every rule evaluated with health ok",
    )
    lag = query(prometheus, f'namespace:newsclf_consumer_lag:sum{{namespace="{NAMESPACE}"}}')
    assert lag["data"]["result"], "the lag recording rule produced nothing"
    for rule in declared:
        answer = query(prometheus, rule["expr"])
        assert answer["status"] == "success", (rule.get("alert") or rule.get("record"), answer)
    firing = query(prometheus, 'ALERTS{alertstate="firing"}')["data"]["result"]
    assert not [a for a in firing if a["metric"]["alertname"] != "NewsClassifierRestarting"], firing
