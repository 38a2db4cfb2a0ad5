"""Batching strategies on the real ONNX model and real articles, side by side in one run.

* one-by-one: a call per article (what a naive consumer does);
* arrival-order: fixed batches of N, padded to the longest article of each;
* planned: :func:`consumer.batching.plan_batches` — sorted by length, token budget.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import articles, best_of, table
from consumer.batching import padded_tokens, plan_batches
from consumer.model import OnnxClassifier
from newsclf.textprep import compose


def run(
    model_dir: Path, n: int = 256, batch: int = 32, max_tokens: int = 8192, threads: int = 0
) -> None:
    model = OnnxClassifier.load(model_dir, "cpu", threads)
    # A realistic mix: every other message is a headline with its first sentence (wire
    # alerts, feed items), the rest full articles, in arrival order.
    mixed = [
        compose(a["title"], a["text"] if i % 2 else a["text"].split(". ")[0])
        for i, a in enumerate(articles(n))
    ]
    ids = model.tokenize(mixed)
    lengths = [len(x) for x in ids]

    def infer(calls: list[list[int]]) -> None:
        for call in calls:
            model.predict([ids[i] for i in call], [mixed[i] for i in call])

    single = [[i] for i in range(n)]
    arrival = [list(range(i, min(i + batch, n))) for i in range(0, n, batch)]
    planned = plan_batches(lengths, batch, max_tokens)
    rows = []
    base = None
    for name, calls in (
        ("one-by-one", single),
        (f"arrival-order x{batch}", arrival),
        ("planned (sorted, token budget)", planned),
    ):
        infer(calls[:2])  # warm-up
        seconds = best_of(lambda calls=calls: infer(calls))
        rate = n / seconds
        base = base or rate
        rows.append(
            [name, len(calls), padded_tokens(lengths, calls), round(rate, 1), f"{rate / base:.2f}x"]
        )
    table(
        f"Batching: {n} BBC messages (half full articles, half headline + first sentence), "
        f"{model.info.variant} model, max_length {model.prep.max_length}, CPU",
        ["strategy", "calls", "padded tokens", "articles/s", "vs one-by-one"],
        rows,
    )
