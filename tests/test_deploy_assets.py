"""The shipped Dockerfile, k8s manifests and Grafana dashboard agree with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from consumer.metrics import Metrics
from consumer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def exposed_metric_names() -> set[str]:
    text = generate_latest(Metrics().registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}


def test_dashboard_queries_only_metrics_the_service_exposes():
    dash = json.loads((ROOT / "k8s/grafana/news-classifier.json").read_text())
    names = exposed_metric_names()
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        for used in re.findall(r"newsclf_[a-z_]+", expr):
            base = re.sub(r"_(bucket|sum|count|total|info)$", "", used)
            assert used in names or base in names, f"{used} is not exposed by the service"


def test_configmap_variables_are_real_settings():
    docs = list(yaml.safe_load_all((ROOT / "k8s/configmap.yaml").read_text()))
    data = docs[0]["data"]
    fields = {f"NEWSCLF_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= fields, set(data) - fields
    Settings(**{k.removeprefix("NEWSCLF_").lower(): v for k, v in data.items()})


def test_manifests_parse_and_probe_the_served_paths():
    kustomization = yaml.safe_load((ROOT / "k8s/kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        assert list(yaml.safe_load_all((ROOT / "k8s" / name).read_text())), name
    deployment = yaml.safe_load((ROOT / "k8s/deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_dockerfile_serving_image_has_no_training_stack():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'pip install ".[${EXTRAS}]"' in dockerfile and "ARG EXTRAS=cpu" in dockerfile
    assert "torch" not in dockerfile.split("FROM", 1)[1].split("ENTRYPOINT")[0].replace(
        "No torch", ""
    )


def test_serving_path_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, consumer.service, consumer.model, consumer.loop, consumer.pipeline, consumer.delivery, consumer.produce;"
        "heavy = {'torch', 'transformers', 'optimum', 'sklearn'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_readme_lists_every_setting_and_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    missing = [n for n in Settings.model_fields if f"`NEWSCLF_{n.upper()}`" not in readme]
    assert not missing, f"README lacks {missing}"
    assert "make demo" in readme and "make test" in readme
