"""The PrometheusRule's alerts, unit-tested by promtool with synthetic series (rules_test.yaml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RULE = REPO / "k8s" / "base" / "prometheusrule.yaml"
DOCS = REPO / "docs" / "deploy.md"


def write_rules(dest: Path) -> Path:
    """The PrometheusRule's groups as a plain Prometheus rule file."""
    spec = yaml.safe_load(RULE.read_text())["spec"]
    path = dest / "rules.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_rules_pass_promtool_check(promtool: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [promtool, "check", "rules", str(write_rules(tmp_path))], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_alerts_fire_on_synthetic_series(promtool: str, tmp_path: Path) -> None:
    write_rules(tmp_path)
    shutil.copy(Path(__file__).with_name("rules_test.yaml"), tmp_path / "rules_test.yaml")
    out = subprocess.run(
        [promtool, "test", "rules", "rules_test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_is_tested_and_has_a_runbook() -> None:
    spec = yaml.safe_load(RULE.read_text())["spec"]
    alerts = [r for g in spec["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 6
    tests = yaml.safe_load(Path(__file__).with_name("rules_test.yaml").read_text())["tests"]
    fired = {
        case["alertname"]
        for t in tests
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    docs = DOCS.read_text()
    for rule in alerts:
        name = rule["alert"]
        assert name in fired, f"{name}: no promtool case where it fires"
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == name.lower()
        assert f"### {name}" in docs, f"{name}: no runbook heading in docs/deploy.md"
        assert rule["labels"]["severity"] in {"warning", "critical"}
