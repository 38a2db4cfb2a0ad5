"""``make review-check``: does the served model send what it should not decide alone to review,
and keep what it knows? Through a real broker, with the real service.

Streams into the input topic:

* articles in German, Spanish, Italian and Turkish (Debian's translated manual pages, fortunes
  and documentation, :mod:`devkit.langdata`): each should land on the review topic;
* real English business news from outside the BBC corpus (Reuters stories shipped in Debian's
  ``r-cran-tm``): each should stay on the output topic, labelled ``business``;

then reads both topics and prints the shares, per language and per reason, and whether the
targets (90 % each) are met. Exit status 0 when they are, 1 when not, 2 on a setup error.

    python -m devkit.review_check                       # artifacts/model, embedded broker
    python -m devkit.review_check --model-dir DIR --per-language 50 --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from devkit.demo import broker
from newsclf import logs

FOREIGN_LANGUAGES = ("de", "es", "it", "tr")
TARGET = 0.90


def run_check(
    bootstrap: str, model_dir: Path, per_language: int, business_label: str
) -> dict[str, Any]:
    """Stream the two sets through a fresh service on ``bootstrap``; returns the figures."""
    from consumer.kafka_io import ensure_topics
    from consumer.produce import produce
    from consumer.service import Service
    from consumer.settings import Settings
    from devkit.langdata import foreign_articles, reuters_business

    foreign = foreign_articles(FOREIGN_LANGUAGES, per_language)
    language_of = {a["id"]: a["lang"] for a in foreign}
    reuters = reuters_business()
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        bootstrap_servers=bootstrap,
        model_dir=model_dir,
        group_id=f"review-check-{run}",
        input_topic=f"review-check-{run}.articles",
        output_topic=f"review-check-{run}.classified",
        review_topic=f"review-check-{run}.review",
        dlq_topic=f"review-check-{run}.dlq",
        metrics_port=0,
        log_format="text",
        log_level="WARNING",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    topics = [settings.input_topic, settings.output_topic, settings.review_topic]
    ensure_topics(settings, [*topics, settings.dlq_topic], 1)
    service = Service(settings)
    runner = threading.Thread(target=service.run, name="service", daemon=True)
    runner.start()
    articles = [{k: v for k, v in a.items() if k != "lang"} for a in foreign] + reuters
    started = time.monotonic()
    try:
        produce(articles, bootstrap_servers=bootstrap, topic=settings.input_topic, rate=0)
        received = _read(bootstrap, topics[1:], len(articles), timeout=600)
    finally:
        service.stop()
        runner.join(60)
    elapsed = time.monotonic() - started
    info = service.model.info
    by_id = {r["id"]: (topic, r) for topic, r in received}
    per_lang: dict[str, Counter[str]] = {lang: Counter() for lang in FOREIGN_LANGUAGES}
    for article_id, lang in language_of.items():
        topic, record = by_id.get(article_id, ("missing", {}))
        if topic == settings.review_topic:
            per_lang[lang][f"review:{record['reason']}"] += 1
        else:
            per_lang[lang][topic if topic == "missing" else "classified"] += 1
        per_lang[lang][f"detected:{record.get('language')}"] += 1
    business: Counter[str] = Counter()
    for article in reuters:
        topic, record = by_id.get(article["id"], ("missing", {}))
        if topic == settings.output_topic:
            business["classified"] += 1
            business[f"label:{record['label']}"] += 1
        elif topic == settings.review_topic:
            business[f"review:{record['reason']}"] += 1
        else:
            business["missing"] += 1
    foreign_reviewed = sum(
        n for c in per_lang.values() for k, n in c.items() if k.startswith("review:")
    )
    business_kept = business[f"label:{business_label}"]
    return {
        "model_version": info.version,
        "review_threshold": service.loop.routes.review_threshold,
        "supported_languages": sorted(service.loop.routes.supported_languages or []),
        "foreign": {lang: dict(c) for lang, c in per_lang.items()},
        "foreign_articles": len(foreign),
        "foreign_reviewed_share": foreign_reviewed / max(len(foreign), 1),
        "business": dict(business),
        "business_articles": len(reuters),
        "business_kept_share": business_kept / max(len(reuters), 1),
        "seconds": round(elapsed, 1),
    }


def _read(bootstrap: str, topics: list[str], expected: int, timeout: float) -> list[Any]:
    from kafka import KafkaConsumer

    reader = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    out: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for records in reader.poll(timeout_ms=500).values():
                out += [(r.topic, json.loads(r.value)) for r in records]
    finally:
        reader.close()
    return out


def render(result: dict[str, Any]) -> str:
    lines = [
        f"model {result['model_version']}: review threshold {result['review_threshold']}, "
        f"supported languages {result['supported_languages']}",
        "",
        "| articles | n | where they went |",
        "|---|---|---|",
    ]
    for lang, counts in result["foreign"].items():
        places = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        lines.append(
            f"| {lang} | {sum(v for k, v in counts.items() if not k.startswith('detected:'))} | {places} |"
        )
    places = ", ".join(f"{k} {v}" for k, v in sorted(result["business"].items()))
    lines.append(f"| Reuters business (en) | {result['business_articles']} | {places} |")
    lines += [
        "",
        f"foreign articles sent to review: {result['foreign_reviewed_share']:.1%} "
        f"(target >= {TARGET:.0%})",
        f"Reuters business articles labelled business on the output topic: "
        f"{result['business_kept_share']:.1%} (target >= {TARGET:.0%})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.review_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument(
        "--per-language", type=int, default=50, help="foreign articles per language"
    )
    parser.add_argument("--business-label", default="business")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    logs.configure("WARNING", "text")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    if not (args.model_dir / "manifest.json").is_file():
        print(
            f"error: no model in {args.model_dir}: run make demo or python -m export",
            file=sys.stderr,
        )
        return 2
    if args.per_language < 1:
        print("error: --per-language must be at least 1", file=sys.stderr)
        return 2
    try:
        with broker() as bootstrap:
            result = run_check(bootstrap, args.model_dir, args.per_language, args.business_label)
    except Exception as exc:  # noqa: BLE001 - one readable line for a setup failure
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = result["foreign_reviewed_share"] >= TARGET and result["business_kept_share"] >= TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
