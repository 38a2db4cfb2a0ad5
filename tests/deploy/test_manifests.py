"""Every overlay renders (kustomize), validates strictly against the vendored Kubernetes and CRD
schemas (kubeconform -strict), and keeps the promises docs/deploy.md makes about it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ["cpu", "gpu", "cpu-exactly-once"]
K8S_VERSION = "1.33.0"


def render(kustomize: str, overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kustomize, "build", str(REPO / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, (kind, [d["metadata"]["name"] for d in found])
    return found[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly(kustomize: str, kubeconform: str, overlay: str, tmp_path: Path):
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(yaml.safe_dump_all(render(kustomize, overlay)))
    out = subprocess.run(
        [
            kubeconform,
            "-strict",
            "-summary",
            "-kubernetes-version",
            K8S_VERSION,
            "-schema-location",
            str(REPO / "k8s/schemas/kubernetes")
            + "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            str(REPO / "k8s/schemas/crds")
            + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Skipped: 0" in out.stdout and "Invalid: 0" in out.stdout, out.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_keeps_its_promises(kustomize: str, overlay: str):
    docs = render(kustomize, overlay)
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 1
    workload = workloads[0]
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "news-classifier"
    )["data"]
    scaled = one(docs, "ScaledObject")
    topics = {d["spec"]["topicName"]: d for d in docs if d["kind"] == "KafkaTopic"}
    pod = workload["spec"]["template"]["spec"]
    container = pod["containers"][0]

    # KEDA owns the replica count, and its numbers are tied to the topic and the settings.
    assert "replicas" not in workload["spec"]
    assert scaled["spec"]["scaleTargetRef"]["kind"] == workload["kind"]
    trigger = scaled["spec"]["triggers"][0]
    meta = trigger["metadata"]
    partitions = topics[config["NEWSCLF_INPUT_TOPIC"]]["spec"]["partitions"]
    workers = int(config["NEWSCLF_WORKERS"])
    assert scaled["spec"]["maxReplicaCount"] * workers == partitions
    assert meta["topic"] == config["NEWSCLF_INPUT_TOPIC"]
    assert meta["consumerGroup"] == config["NEWSCLF_GROUP_ID"]
    assert meta["offsetResetPolicy"] == config["NEWSCLF_AUTO_OFFSET_RESET"]
    assert meta["bootstrapServers"] == config["NEWSCLF_BOOTSTRAP_SERVERS"]
    assert "fallback" in scaled["spec"]
    assert "cooldownPeriod" not in scaled["spec"] or scaled["spec"]["minReplicaCount"] == 0
    if config.get("NEWSCLF_SECURITY_PROTOCOL", "PLAINTEXT").startswith("SASL"):
        auth = one(docs, "TriggerAuthentication")
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
        params = {p["parameter"] for p in auth["spec"]["secretTargetRef"]}
        assert {"sasl", "username", "password", "tls", "ca"} <= params

    # Hardening.
    assert pod["automountServiceAccountToken"] is False
    account = one(docs, "ServiceAccount")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["securityContext"]["runAsNonRoot"] is True
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "@sha256:" in container["image"]
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert len(config["NEWSCLF_MODEL_SHA256"]) == 64
    policy = one(docs, "NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 9092, 9093}
    probes = {
        k: container[k]["httpGet"]["path"]
        for k in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }

    # Each topic lives with the Kafka cluster; everything else with the service.
    for doc in docs:
        if doc["kind"] == "KafkaTopic":
            assert doc["metadata"]["namespace"] == "kafka"
        elif doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "news-classifier", doc["metadata"]["name"]

    if overlay == "gpu":
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
            "tolerations"
        ]
        assert config["NEWSCLF_EXECUTION_PROVIDER"] == "cuda" and workers > 1
    if overlay == "cpu-exactly-once":
        assert config["NEWSCLF_DELIVERY"] == "exactly-once"
        env = {e["name"]: e for e in container["env"]}
        assert env["NEWSCLF_TRANSACTIONAL_ID"]["value"] == "news-classifier-$(NEWSCLF_CLIENT_ID)"
        assert env["NEWSCLF_CLIENT_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
