"""The service on a secured Apache Kafka: SASL/SCRAM-SHA-512 (over plaintext and over TLS) and
TLS alone, with a CA made by Java's keytool, all on loopback (``KAFKA_SECURITY=1 bash
scripts/kafka.sh start`` on ``$NEWSCLF_TEST_SECURE_KAFKA_PORT``, default 29192, and the four
ports after it).

* With the right credentials the service classifies articles (black box: ``python -m
  consumer`` configured through NEWSCLF_SECURITY_PROTOCOL / NEWSCLF_SASL_* / NEWSCLF_SSL_*).
* With a wrong password it stops within 30 s, exit code 3, its last line one clear message
  about authentication, no traceback.
* The password appears in no log line and no metric.

The broker keeps a PLAINTEXT listener for the test's own clients (topics, feeding, reading);
the service is only ever given the secured address. Needs Java 17 (like ``make test``); about a
minute. Part of ``make test`` pass 1 (not marked ``kafka``: it brings its own broker, so the
embedded-broker pass does not repeat it).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    Ledger,
    ServiceProcess,
    Tail,
    article_records,
    articles,
    produce,
    service_env,
    wait_for,
)
from tests.fixtures.kafka import make_topic, unique_name

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("NEWSCLF_TEST_SECURE_KAFKA_PORT", "29192"))
USER = "newsclf-svc"
FAIL_FAST_S = 30


def _kafka_sh(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "kafka.sh"), command],
        cwd=REPO,
        env={**os.environ, "KAFKA_PORT": str(PORT), **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def secure_kafka():
    if _kafka_sh("status").returncode == 0:
        pytest.fail(
            f"a broker already runs on port {PORT}; this test starts its own secured one "
            f"(KAFKA_PORT={PORT} bash scripts/kafka.sh stop, or set NEWSCLF_TEST_SECURE_KAFKA_PORT)",
            pytrace=False,
        )
    password = secrets.token_urlsafe(24)
    started = _kafka_sh(
        "start", KAFKA_SECURITY="1", KAFKA_SCRAM_USER=USER, KAFKA_SCRAM_PASSWORD=password
    )
    if started.returncode != 0:
        pytest.fail(f"the secured broker did not start:\n{started.stderr[-3000:]}", pytrace=False)
    info = dict(line.split("=", 1) for line in _kafka_sh("info").stdout.splitlines() if "=" in line)
    try:
        yield {**info, "password": password}
    finally:
        _kafka_sh("stop")


def _security_env(kind: str, info: dict[str, str], password: str) -> dict[str, str]:
    if kind == "SASL_PLAINTEXT":
        env = {"NEWSCLF_BOOTSTRAP_SERVERS": info["KAFKA_SASL_BOOTSTRAP"]}
    elif kind == "SASL_SSL":
        env = {
            "NEWSCLF_BOOTSTRAP_SERVERS": info["KAFKA_SASL_SSL_BOOTSTRAP"],
            "NEWSCLF_SSL_CAFILE": info["KAFKA_CA_PEM"],
        }
    else:  # SSL: server certificate only, no SASL
        return {
            "NEWSCLF_BOOTSTRAP_SERVERS": info["KAFKA_SSL_BOOTSTRAP"],
            "NEWSCLF_SECURITY_PROTOCOL": "SSL",
            "NEWSCLF_SSL_CAFILE": info["KAFKA_CA_PEM"],
        }
    return {
        **env,
        "NEWSCLF_SECURITY_PROTOCOL": kind,
        "NEWSCLF_SASL_MECHANISM": "SCRAM-SHA-512",
        "NEWSCLF_SASL_USERNAME": USER,
        "NEWSCLF_SASL_PASSWORD": password,
    }


def _topics(bootstrap: str) -> dict[str, str]:
    return {
        "input_topic": make_topic(bootstrap, 2, prefix="secure-in"),
        "output_topic": make_topic(bootstrap, 1, prefix="secure-out"),
        "dlq_topic": make_topic(bootstrap, 1, prefix="secure-dlq"),
    }


@pytest.mark.parametrize("kind", ["SASL_PLAINTEXT", "SASL_SSL", "SSL"])
def test_right_credentials_classify_and_the_secret_stays_secret(
    kind, secure_kafka, tiny_model_dir, tmp_path
):
    plain = secure_kafka["KAFKA_BOOTSTRAP"]
    password = secure_kafka["password"]
    t = _topics(plain)
    items = articles(20, unique_name("sec"))
    ledger = Ledger()
    ledger.add_inputs(
        produce(plain, t["input_topic"], article_records(items)), [a["id"] for a in items]
    )
    env = {
        **service_env(plain, tiny_model_dir, group_id=unique_name("secure"), **t),
        **_security_env(kind, secure_kafka, password),
        "NEWSCLF_LOG_LEVEL": "DEBUG",  # the most the service ever writes
    }
    proc = ServiceProcess(f"secure-{kind.lower()}", env, tmp_path).start()
    out = Tail(plain, t["output_topic"])
    scrape = health = ""
    try:

        def all_out() -> bool:
            ledger.add_outputs(out.poll(200))
            if proc.reap() is not None:
                raise AssertionError(f"the service exited {proc.exits}:\n{proc.log_tail()}")
            return not ledger.lost

        wait_for(all_out, 90, f"every article classified over {kind}")
        scrape = proc.scrape("/metrics")
        health = proc.scrape("/readyz")
        code = proc.stop()
    finally:
        out.close()
        proc.kill9()
    log = proc.log_path.read_text(errors="replace")
    assert code == 0, proc.log_tail()
    assert "ready" in health
    assert "newsclf_messages_total" in scrape
    if kind != "SSL":
        assert password not in log, "the SASL password is in the service's log"
        assert password not in scrape, "the SASL password is in /metrics"
        assert env["NEWSCLF_BOOTSTRAP_SERVERS"] != plain


def test_a_wrong_password_fails_fast_with_one_clear_line(secure_kafka, tiny_model_dir, tmp_path):
    plain = secure_kafka["KAFKA_BOOTSTRAP"]
    t = _topics(plain)
    wrong = "wrong-" + secrets.token_urlsafe(12)
    env = {
        **service_env(plain, tiny_model_dir, group_id=unique_name("secure-bad"), **t),
        **_security_env("SASL_PLAINTEXT", secure_kafka, wrong),
    }
    started = time.monotonic()
    proc = ServiceProcess("secure-wrong-password", env, tmp_path).start()
    try:
        assert proc.proc is not None
        try:
            code = proc.proc.wait(timeout=FAIL_FAST_S + 30)
        except subprocess.TimeoutExpired:
            proc.signal(signal.SIGKILL)
            raise AssertionError(
                f"still running {FAIL_FAST_S + 30} s after start with a wrong password:\n"
                + proc.log_tail()
            ) from None
        seconds = time.monotonic() - started
    finally:
        proc.kill9()
    text = proc.log_path.read_text(errors="replace")
    lines = [line for line in text.splitlines() if line.strip() and '"harness"' not in line]
    assert code == 3, f"exit code {code}, want 3:\n{proc.log_tail()}"
    assert seconds <= FAIL_FAST_S, f"took {seconds:.1f} s to give up, want <= {FAIL_FAST_S}"
    assert "Traceback" not in text, proc.log_tail()
    assert wrong not in text, "the wrong password is in the output"
    about_auth = [line for line in lines if re.search(r"authenticat|sasl|credential", line, re.I)]
    assert len(about_auth) == 1, (
        f"want one line about the failed authentication:\n{proc.log_tail()}"
    )
    assert lines[-1] == about_auth[0], f"the last line should say why:\n{proc.log_tail()}"
