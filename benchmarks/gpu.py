"""The GPU check: the serving model wrapper on ONNX Runtime's CUDA provider (fp16 model, IO
binding) against its CPU provider (int8 model, the CPU production variant), side by side in
one run, on the same real articles and batch plans.

    python -m benchmarks.gpu --cuda-model DIR_FP16 --cpu-model DIR_INT8 [--texts heldout.jsonl]

Prints articles/s per provider and batch size, the CUDA/CPU ratio, and how often the two
agree on the label. Needs ``onnxruntime-gpu`` and a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def _texts(path: Path | None, n: int) -> list[str]:
    if path is None:
        from benchmarks.common import texts as corpus_texts

        return corpus_texts(n)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    texts = [r["text"] for r in rows]
    while len(texts) < n:
        texts = texts + texts
    return texts[:n]


def throughput(model, ids: list[list[int]], texts: list[str], batch: int, repeats: int) -> float:
    from consumer.batching import plan_batches

    calls = plan_batches([len(x) for x in ids], batch, 1 << 30)
    model.predict(
        [ids[i] for i in calls[0]], [texts[i] for i in calls[0]]
    )  # warm-up: kernels, allocator
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for call in calls:
            model.predict([ids[i] for i in call], [texts[i] for i in call])
        best = min(best, time.perf_counter() - t)
    return len(ids) / best


def main(argv: list[str] | None = None) -> int:
    import onnxruntime as ort

    from consumer.model import OnnxClassifier

    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu")
    parser.add_argument("--cuda-model", type=Path, required=True)
    parser.add_argument("--cpu-model", type=Path, required=True)
    parser.add_argument("--texts", type=Path, default=None, help="JSONL with a text field")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batches", default="1,8,32,128")
    parser.add_argument("--cpu-threads", type=int, default=min(os.cpu_count() or 1, 16))
    args = parser.parse_args(argv)

    print(f"onnxruntime {ort.__version__}; providers {ort.get_available_providers()}")
    gpu = OnnxClassifier.load(args.cuda_model, "cuda")
    cpu = OnnxClassifier.load(args.cpu_model, "cpu", args.cpu_threads)
    assert gpu.info.provider == "CUDAExecutionProvider", gpu.info.provider
    texts = _texts(args.texts, args.n)
    ids = gpu.tokenize(texts)
    agree = float(
        np.mean(np.argmax(gpu.predict(ids, texts), 1) == np.argmax(cpu.predict(ids, texts), 1))
    )
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        c = throughput(cpu, ids, texts, batch, repeats=1 if batch == 1 else 2)
        g = throughput(gpu, ids, texts, batch, repeats=3)
        rows.append((batch, c, g))
    print(
        f"\n{len(ids)} articles, max_length {gpu.prep.max_length}; "
        f"CUDA: {gpu.info.variant}, CPU ({args.cpu_threads} threads): {cpu.info.variant}; "
        f"label agreement CUDA vs CPU: {agree:.3f}\n"
    )
    print("| batch | CPU articles/s | CUDA articles/s | CUDA vs CPU |")
    print("|---|---|---|---|")
    for batch, c, g in rows:
        print(f"| {batch} | {c:.0f} | {g:.0f} | {g / c:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
