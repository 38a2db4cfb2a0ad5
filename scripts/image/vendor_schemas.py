"""Vendor the JSON schemas kubeconform validates the rendered overlays against (offline).

    .cache/deploy-tools/venv/bin/python scripts/image/vendor_schemas.py

Writes k8s/schemas/ (committed, so `make lint-deploy` needs no network):

- kubernetes/v<K8S>-standalone-strict/<kind>-<group>-<version>.json: the strict schemas of the
  built-in kinds the manifests use, made standalone (each carries the definitions it needs) from
  the PyPI package ``kubernetes-validate`` (pinned in scripts/image/tools.sh);
- crds/<group>/<kind>_<version>.json: the CRDs' openAPIV3Schema, made strict the way
  kubeconform's openapi2jsonschema does (additionalProperties: false wherever properties are
  listed and unknown fields are not preserved), from the CRD files in the Go modules of KEDA and
  the Prometheus Operator (downloaded through the Go module proxy with ``go mod download``);
- crds/kafka.strimzi.io/kafkatopic_v1beta2.json: written here by hand from Strimzi's
  KafkaTopicSpec (io.strimzi:api), since no registry ships Strimzi's CRD files.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "k8s" / "schemas"
K8S_VERSION = "1.33.0"
KEDA = "github.com/kedacore/keda/v2@v2.18.3"
PROM_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

BUILTIN = [
    "namespace-v1",
    "serviceaccount-v1",
    "configmap-v1",
    "service-v1",
    "deployment-apps-v1",
    "statefulset-apps-v1",
    "poddisruptionbudget-policy-v1",
    "networkpolicy-networking-v1",
]
CRDS = {
    KEDA: [
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ],
    PROM_OPERATOR: [
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ],
}

REF = re.compile(r"^/api/_definitions\.json#/\$defs/(.+)$")


def builtin_schemas() -> None:
    src = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{K8S_VERSION}-local-strict"
    )
    defs = json.loads((src / "_definitions.json").read_text())["$defs"]
    dest = OUT / "kubernetes" / f"v{K8S_VERSION}-standalone-strict"
    dest.mkdir(parents=True, exist_ok=True)
    for name in BUILTIN:
        schema = json.loads((src / f"{name}.json").read_text())
        needed: dict[str, Any] = {}

        def walk(node: Any, needed: dict[str, Any] = needed) -> None:
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    m = REF.match(ref) or re.match(r"^#/\$defs/(.+)$", ref)
                    if m:
                        key = m.group(1)
                        node["$ref"] = f"#/$defs/{key}"
                        if key not in needed:
                            needed[key] = json.loads(json.dumps(defs[key]))
                            walk(needed[key], needed)
                for value in node.values():
                    walk(value, needed)
            elif isinstance(node, list):
                for value in node:
                    walk(value, needed)

        walk(schema, needed)
        schema["$defs"] = needed
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        (dest / f"{name}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


def strict(node: Any) -> Any:
    if isinstance(node, dict):
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


def go_module_dir(module: str) -> Path:
    out = subprocess.run(
        ["go", "mod", "download", "-json", module], capture_output=True, text=True, check=True
    )
    return Path(json.loads(out.stdout)["Dir"])


def crd_schemas() -> None:
    for module, files in CRDS.items():
        root = go_module_dir(module)
        for rel in files:
            crd = yaml.safe_load((root / rel).read_text())
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"].lower()
            for version in crd["spec"]["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                schema["properties"]["apiVersion"] = {"enum": [f"{group}/{version['name']}"]}
                schema["properties"]["kind"] = {"enum": [crd["spec"]["names"]["kind"]]}
                schema["properties"]["metadata"] = {"type": "object"}
                schema["x-source"] = f"{module} {rel}"
                dest = OUT / "crds" / group / f"{kind}_{version['name']}.json"
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


KAFKA_TOPIC = {
    "description": "Strimzi KafkaTopic (kafka.strimzi.io/v1beta2), written by hand from "
    "io.strimzi:api KafkaTopicSpec: the fields this project uses, strict.",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"enum": ["kafka.strimzi.io/v1beta2"]},
        "kind": {"enum": ["KafkaTopic"]},
        "metadata": {
            "type": "object",
            "required": ["name", "labels"],
            "properties": {
                "labels": {
                    "type": "object",
                    "required": ["strimzi.io/cluster"],
                    "additionalProperties": {"type": "string"},
                }
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["partitions", "replicas"],
            "properties": {
                "topicName": {"type": "string", "pattern": "^[a-zA-Z0-9._-]{1,249}$"},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "integer", "boolean", "number"]},
                },
            },
        },
        "status": {"type": "object"},
    },
}


def main() -> None:
    builtin_schemas()
    crd_schemas()
    dest = OUT / "crds" / "kafka.strimzi.io" / "kafkatopic_v1beta2.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(KAFKA_TOPIC, indent=1, sort_keys=True) + "\n")
    files = sorted(OUT.rglob("*.json"))
    size = sum(f.stat().st_size for f in files)
    print(  # noqa: T201 (a command-line tool's output)
        f"vendor_schemas: {len(files)} schemas, {size / 1e6:.1f} MB under {OUT.relative_to(REPO)}"
    )


if __name__ == "__main__":
    main()
