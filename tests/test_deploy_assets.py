"""The shipped Dockerfile, image locks, k8s manifests, alerts and dashboard agree with the code.

Pure file checks (no tools needed). The rendered overlays are checked in tests/deploy/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from consumer.metrics import Metrics
from consumer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
DASHBOARD = K8S / "base/grafana/news-classifier.json"
# Settings the manifests set that the service reads outside Settings.model_fields:
# NEWSCLF_SECRETS_DIR names pydantic-settings' secrets_dir (secrets mounted as files).
OUTSIDE_FIELDS = {"NEWSCLF_SECRETS_DIR"}


def exposed_metric_names() -> set[str]:
    text = generate_latest(Metrics().registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}


def used_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\bnewsclf_[a-z_]+", expr))


def assert_exposed(expr: str, names: set[str]) -> None:
    for used in used_metrics(expr):
        base = re.sub(r"_(bucket|sum|count|total|info)$", "", used)
        assert used in names or base in names, f"{used} is not exposed by the service ({expr})"


def configmaps() -> dict[str, dict[str, str]]:
    """Every ConfigMap data block of the base, the components and the overlays, by file."""
    out = {}
    for path in sorted(K8S.rglob("*.yaml")):
        if "schemas" in path.parts:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and "data" in doc:
                out[str(path.relative_to(ROOT))] = doc["data"]
    return out


def test_dashboard_queries_only_metrics_the_service_exposes():
    dash = json.loads(DASHBOARD.read_text())
    names = exposed_metric_names()
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        assert_exposed(expr, names)


def test_alert_rules_use_only_metrics_the_service_exposes():
    spec = yaml.safe_load((K8S / "base/prometheusrule.yaml").read_text())["spec"]
    names = exposed_metric_names()
    records = {r["record"] for g in spec["groups"] for r in g["rules"] if "record" in r}
    for group in spec["groups"]:
        for rule in group["rules"]:
            expr = rule["expr"]
            for record in records:
                expr = expr.replace(record, "")
            assert_exposed(expr, names)


def test_configmap_variables_are_real_settings():
    fields = {f"NEWSCLF_{name.upper()}" for name in Settings.model_fields}
    merged: dict[str, str] = {}
    found = configmaps()
    assert "k8s/base/configmap.yaml" in found
    for path, data in found.items():
        unknown = set(data) - fields - OUTSIDE_FIELDS
        assert not unknown, f"{path}: {unknown} are not settings"
        merged.update(data)
    Settings(
        **{
            k.removeprefix("NEWSCLF_").lower(): v
            for k, v in merged.items()
            if k not in OUTSIDE_FIELDS
        }
    )


def test_no_secret_reaches_the_pod_as_an_environment_variable():
    for path in K8S.rglob("*.yaml"):
        text = path.read_text()
        assert "secretKeyRef" not in text and "secretRef" not in text, path
    for data in configmaps().values():
        assert not {"NEWSCLF_SASL_PASSWORD", "NEWSCLF_SSL_PASSWORD"} & set(data)


def test_topic_sizes_agree_with_the_service_settings():
    topics = {
        d["spec"]["topicName"]: d
        for d in yaml.safe_load_all((K8S / "topics/topics.yaml").read_text())
    }
    data = yaml.safe_load((K8S / "base/configmap.yaml").read_text())["data"]
    settings = Settings(
        **{
            k.removeprefix("NEWSCLF_").lower(): v
            for k, v in data.items()
            if k != "NEWSCLF_SECRETS_DIR"
        }
    )
    names = {settings.input_topic, settings.output_topic, settings.dlq_topic}
    assert names <= set(topics)
    labels = ["business", "entertainment", "politics", "sport", "tech"]
    assert {settings.label_topic_prefix + label for label in labels} <= set(topics)

    def max_bytes(name: str) -> int:
        return int(topics[name]["spec"]["config"]["max.message.bytes"])

    # An oversized input must reach the service (to be dead-lettered), not bounce at the broker.
    assert max_bytes(settings.input_topic) >= settings.max_message_bytes
    # A dead letter embeds the original (base64: 4/3) plus an envelope: it must fit the
    # producer's request limit, and the DLQ topic must accept what the producer sends.
    embedded = getattr(settings, "dlq_max_value_bytes", settings.max_message_bytes)
    embedded = min(embedded, settings.max_message_bytes)
    assert settings.producer_max_request_size >= embedded * 4 // 3 + 64 * 1024
    assert max_bytes(settings.dlq_topic) >= settings.producer_max_request_size
    for topic in topics.values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "news"
        assert int(topic["spec"]["config"]["min.insync.replicas"]) < topic["spec"]["replicas"]


def test_statefulset_pod_matches_the_deployments():
    deployment = yaml.safe_load((K8S / "base/deployment.yaml").read_text())
    statefulset = yaml.safe_load((K8S / "components/exactly-once/statefulset.yaml").read_text())
    dep = deployment["spec"]["template"]
    sts = json.loads(json.dumps(statefulset["spec"]["template"]))
    extra = {"NEWSCLF_GROUP_INSTANCE_ID", "NEWSCLF_TRANSACTIONAL_ID"}
    container = sts["spec"]["containers"][0]
    assert extra <= {e["name"] for e in container["env"]}
    container["env"] = [e for e in container["env"] if e["name"] not in extra]
    dep = json.loads(json.dumps(dep))
    for spread in dep["spec"]["topologySpreadConstraints"]:
        spread.pop("matchLabelKeys", None)  # pod-template-hash exists for Deployments only
    assert sts == dep


def test_dockerfile_is_multi_stage_locked_pinned_and_non_root():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\S+)$", text, flags=re.M)
    names = [name for _, name in stages]
    assert {"cpu", "gpu"} <= set(names) and names[-1] == "cpu"  # `docker build .` = CPU
    base = re.search(r"^ARG BASE=(\S+)$", text, flags=re.M)
    assert base and re.search(r"@sha256:[0-9a-f]{64}$", base.group(1)), "BASE pinned by digest"
    for target in ("cpu", "gpu"):
        lock = f"requirements/serve-{target}.txt"
        install = text.index(f"COPY {lock}")
        assert "--require-hashes --no-deps --only-binary=:all:" in text[install : install + 500]
    # dependencies before code: the code stage copies after the lock install
    assert text.index("COPY requirements/serve-cpu.txt") < text.index("COPY consumer")
    healthcheck = re.search(r"^HEALTHCHECK .*\n\s+CMD (\[.*\])$", text, flags=re.M)
    assert healthcheck and json.loads(healthcheck.group(1))[0] == "python"  # exec form
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users and all(u.split(":")[0] not in {"0", "root"} for u in users)
    copied = set(re.findall(r"^COPY (?!--from)(\S+) ", text, flags=re.M))
    assert {"newsclf", "consumer"} <= copied
    assert not {"training", "export", "devkit", "tests", "."} & copied
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert "torch" not in body and "transformers" not in body


def test_image_locks_cover_the_serving_dependencies():
    project = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[<>=!\[ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    for target, runtime in (("cpu", "onnxruntime"), ("gpu", "onnxruntime-gpu")):
        text = (ROOT / f"requirements/serve-{target}.txt").read_text()
        pinned = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+) \\$", text, flags=re.M))
        assert wanted | {runtime, "crc32c"} <= set(pinned), target
        blocks = re.split(r"\n(?=[a-z0-9])", text.split("\n\n", 1)[1])
        assert all("--hash=sha256:" in b for b in blocks if "==" in b), target
    gpu = dict(
        re.findall(
            r"^([a-z0-9_.-]+)==(\S+) \\$",
            (ROOT / "requirements/serve-gpu.txt").read_text(),
            flags=re.M,
        )
    )
    assert gpu["onnxruntime-gpu"].startswith("1.31.")
    assert "nvidia-cudnn-cu13" in gpu and gpu["nvidia-cuda-runtime"].startswith("13.")
    assert "onnxruntime" not in gpu  # the CPU wheel would shadow the GPU one


def test_serving_path_imports_no_torch():
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
