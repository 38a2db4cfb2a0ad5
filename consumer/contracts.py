"""Wire contracts: a JSON Schema for the value of every topic the service reads or writes,
generated from the pydantic models in :mod:`consumer.schemas`, versioned, and shipped in the
package (``consumer/wire/``) and in ``docs/wire/``.

``python -m consumer.contracts`` checks that the shipped schemas are what the models generate
and that each is backward compatible with every released version in ``consumer/wire/history``
(a new required field, a removed field or a changed type fails; a new optional field passes);
``--write`` regenerates them, and ``--release`` also copies the current ones into the history
(do that when a version ships). Bump a schema's version in :data:`VERSIONS` with every change.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from consumer.schemas import (
    Article,
    ClassifiedArticle,
    DeadLetter,
    ReviewArticle,
    ShadowDisagreement,
)
from newsclf.cli import fail

WIRE = Path(__file__).resolve().parent / "wire"
HISTORY = WIRE / "history"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "wire"

# schema name -> (model, the topic setting it is the value of, what it is)
CONTRACTS: dict[str, tuple[type[BaseModel], str, str]] = {
    "article": (Article, "NEWSCLF_INPUT_TOPIC", "an input article"),
    "classified": (
        ClassifiedArticle,
        "NEWSCLF_OUTPUT_TOPIC and NEWSCLF_LABEL_TOPIC_PREFIX<label>",
        "a classified article (also each per-label copy)",
    ),
    "review": (ReviewArticle, "NEWSCLF_REVIEW_TOPIC", "an article sent to review"),
    "dead_letter": (DeadLetter, "NEWSCLF_DLQ_TOPIC", "a dead letter"),
    "shadow_disagreement": (
        ShadowDisagreement,
        "NEWSCLF_SHADOW_TOPIC",
        "a live/shadow disagreement",
    ),
}
VERSIONS = {name: 1 for name in CONTRACTS}


def generate(name: str) -> dict[str, Any]:
    model, topic, what = CONTRACTS[name]
    version = VERSIONS[name]
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:news-classifier:{name}:v{version}",
        "x-version": version,
        "x-topic": topic,
        "x-describes": what,
        **schema,
    }


def file_name(name: str, version: int | None = None) -> str:
    return f"{name}.json" if version is None else f"{name}.v{version}.json"


def _types(prop: dict[str, Any]) -> set[str]:
    if "anyOf" in prop:
        return set().union(*(_types(p) for p in prop["anyOf"]))
    if "$ref" in prop:
        return {prop["$ref"]}
    kind = prop.get("type", "any")
    return set(kind) if isinstance(kind, list) else {kind}


def incompatibilities(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """Why data valid under ``old`` and code written for it break under ``new`` (empty: a
    backward-compatible change). Checks properties, required fields and types, recursing into
    nested models (``$defs``)."""
    problems: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for field in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{where}{field}: a new required field")
    for field in sorted(set(old_props) - set(new_props)):
        problems.append(f"{where}{field}: removed")
    for field in sorted(set(old_props) & set(new_props)):
        lost = _types(old_props[field]) - _types(new_props[field])
        if lost:
            problems.append(f"{where}{field}: no longer accepts {', '.join(sorted(lost))}")
    for name, sub in old.get("$defs", {}).items():
        if name in new.get("$defs", {}):
            problems += incompatibilities(sub, new["$defs"][name], f"{where}{name}.")
        else:
            problems.append(f"{where}{name}: nested model removed")
    return problems


def check() -> list[str]:
    """Everything wrong with the shipped schemas (empty: all good)."""
    problems = []
    for name in CONTRACTS:
        current = generate(name)
        for root in (WIRE, DOCS):
            shipped = root / file_name(name)
            if not shipped.is_file() or json.loads(shipped.read_text()) != current:
                problems.append(
                    f"{shipped} is not what {CONTRACTS[name][0].__name__} generates "
                    "(python -m consumer.contracts --write)"
                )
        for released in sorted(HISTORY.glob(f"{name}.v*.json")):
            old = json.loads(released.read_text())
            for p in incompatibilities(old, current):
                problems.append(f"{name} is not backward compatible with {released.name}: {p}")
            if old.get("x-version", 0) > current["x-version"] or (
                old != current and old.get("x-version") == current["x-version"]
            ):
                problems.append(
                    f"{name} changed since {released.name} without a new version "
                    "(raise VERSIONS in consumer/contracts.py)"
                )
    return problems


def write(release: bool = False) -> list[Path]:
    written = []
    for root in (WIRE, DOCS):
        root.mkdir(parents=True, exist_ok=True)
        for name in CONTRACTS:
            path = root / file_name(name)
            path.write_text(json.dumps(generate(name), indent=2) + "\n", encoding="utf-8")
            written.append(path)
    if release:
        HISTORY.mkdir(parents=True, exist_ok=True)
        for name in CONTRACTS:
            target = HISTORY / file_name(name, VERSIONS[name])
            shutil.copyfile(WIRE / file_name(name), target)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m consumer.contracts", description=__doc__)
    p.add_argument("--write", action="store_true", help="regenerate the shipped schemas")
    p.add_argument("--release", action="store_true", help="--write, and record them as released")
    args = p.parse_args(argv)
    if args.write or args.release:
        for path in write(release=args.release):
            print(f"wrote {path}")
    problems = check()
    for problem in problems:
        fail(problem)
    if not problems:
        print(f"{len(CONTRACTS)} wire schemas: shipped, generated and backward compatible")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
