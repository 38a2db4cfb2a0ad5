"""The speed side of the speed/accuracy table (docs/training-results.md): one exported model on
CPU, from article text to label scores, with 128-, 256- and 512-token windows, each with the
hybrid's TF-IDF branch fused in and without it, and the branch alone; the same articles and
batches in one run.

A window's speed does not depend on what the model was trained on, so each row's figure holds
for any checkpoint of this architecture served with that window; the accuracy of each recipe
comes from its own measurement (the table in the docs says which).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import best_of, table, texts
from consumer.model import OnnxClassifier
from newsclf.textprep import Preprocessing, encode_batch, prepare_tokenizer

WINDOWS = (128, 256, 512)


def run(model_dir: Path, n: int = 128, batch: int = 32) -> None:
    from tokenizers import Tokenizer

    model = OnnxClassifier.load(model_dir, "cpu")
    branch = model.lexical
    tok = prepare_tokenizer(Tokenizer.from_file(str(model_dir / "tokenizer.json")))
    docs = texts(n)
    batches = [docs[i : i + batch] for i in range(0, n, batch)]
    pad = model.prep.pad_token_id
    rows: list[list[object]] = []
    base: float | None = None
    for window in WINDOWS:
        prep = Preprocessing(window, window * 3 // 4, pad)
        for lexical in (branch, None) if branch is not None else (None,):
            model.lexical = lexical

            def classify(prep: Preprocessing = prep) -> None:
                for docs_batch in batches:
                    model.predict(encode_batch(tok, docs_batch, prep), docs_batch)

            classify()  # warm up
            seconds = best_of(classify)
            base = base if base is not None else seconds
            name = f"{window} tokens" + (" + TF-IDF branch (hybrid)" if lexical else " alone")
            rows.append([name, f"{n / seconds:,.1f}", f"{base / seconds:.2f}x"])
    model.lexical = branch
    if branch is not None:
        seconds = best_of(lambda: [branch.log_proba(b) for b in batches])
        rows.append(
            ["TF-IDF branch alone (numpy)", f"{n / seconds:,.1f}", f"{base / seconds:.2f}x"]
        )
    table(
        f"Speed by window on CPU, {model_dir.name}: {n} BBC articles from text, batches of {batch}",
        ["served as", "articles/s", f"vs {WINDOWS[0]} tokens"],
        rows,
    )
