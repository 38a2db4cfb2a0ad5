"""ONNX variants against PyTorch eager on CPU, same articles, same batches, one run.

Needs the training extras (torch) for the PyTorch baseline. Exports the variants it lacks
into ``<work>/variant-<name>`` with the real exporter (parity gate included).
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.common import best_of, table, texts
from consumer.model import OnnxClassifier
from newsclf.textprep import Preprocessing, encode_batch, prepare_tokenizer


def _torch_runner(checkpoint: Path, batches: list[list[list[int]]], pad: int):
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoint, local_files_only=True
    ).eval()

    def run() -> None:
        with torch.inference_mode():
            for rows in batches:
                longest = max(len(r) for r in rows)
                ids = torch.full((len(rows), longest), pad, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for i, r in enumerate(rows):
                    ids[i, : len(r)] = torch.tensor(r)
                    mask[i, : len(r)] = 1
                model(input_ids=ids, attention_mask=mask)

    return run


def run(checkpoint: Path, work: Path, n: int = 128, batch: int = 32) -> None:
    from tokenizers import Tokenizer

    from export.pipeline import export_model  # training extras

    prep = Preprocessing.load(checkpoint)
    tok = prepare_tokenizer(Tokenizer.from_file(str(checkpoint / "tokenizer.json")))
    docs = texts(n)
    ids = encode_batch(tok, docs, prep)
    batches = [ids[i : i + batch] for i in range(0, n, batch)]
    doc_batches = [docs[i : i + batch] for i in range(0, n, batch)]
    torch_run = _torch_runner(checkpoint, batches, prep.pad_token_id)
    torch_run()
    base = best_of(torch_run)
    rows = [["PyTorch eager fp32", "-", round(n / base, 1), "1.00x"]]
    for variant in ("fp32", "optimized", "int8"):
        out = work / f"variant-{variant}"
        if not (out / "manifest.json").is_file():
            export_model(checkpoint, out, variant=variant)
        model = OnnxClassifier.load(out, "cpu")
        size = os.path.getsize(out / "model.onnx") / 2**20
        # a hybrid is measured as served and, side by side, with its TF-IDF branch left out:
        # the difference is what the branch costs
        for name, lexical in (("", model.lexical), (" transformer alone", None)):
            if name and model.lexical is None:
                continue
            model.lexical = lexical
            model.predict(batches[0], doc_batches[0])
            seconds = best_of(
                lambda model=model: [
                    model.predict(b, d) for b, d in zip(batches, doc_batches, strict=True)
                ]
            )
            rows.append(
                [
                    f"ONNX Runtime {variant}{name}"
                    + (" (hybrid, as served)" if lexical is not None else ""),
                    f"{size:.1f} MiB",
                    round(n / seconds, 1),
                    f"{base / seconds:.2f}x",
                ]
            )
    table(
        f"Model variants on CPU: {n} BBC articles in batches of {batch}, max_length {prep.max_length}",
        ["runtime", "model size", "articles/s", "vs PyTorch"],
        rows,
    )
