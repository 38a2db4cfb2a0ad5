"""The GPU check: the serving model wrapper on ONNX Runtime's CUDA provider against its CPU
provider, side by side in one run, on the same real articles and batches.

Run on a machine with a GPU and ``onnxruntime-gpu``:

    python -m benchmarks.gpu MODEL_DIR_FP16 [MODEL_DIR_FP32] [--n 512]

Prints articles/s per (provider, model, batch size) and the ratio against CPU. It also checks
that the CUDA provider's labels agree with the CPU provider's on the same inputs.
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
    if path is not None:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        texts = [r["text"] for r in rows]
    else:
        from benchmarks.common import texts as corpus_texts

        return corpus_texts(n)
    while len(texts) < n:
        texts = texts + texts
    return texts[:n]


def _throughput(model, ids: list[list[int]], batch: int, repeats: int = 3) -> float:
    from consumer.batching import plan_batches

    calls = plan_batches([len(x) for x in ids], batch, 1 << 30)
    model.predict([ids[i] for i in calls[0]])  # warm-up (CUDA kernels, allocator)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for call in calls:
            model.predict([ids[i] for i in call])
        best = min(best, time.perf_counter() - t)
    return len(ids) / best


def main(argv: list[str] | None = None) -> int:
    from consumer.model import OnnxClassifier

    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu")
    parser.add_argument("model_dirs", type=Path, nargs="+")
    parser.add_argument("--texts", type=Path, default=None, help="JSONL with a text field")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batches", default="1,32,128")
    parser.add_argument("--cpu-threads", type=int, default=min(os.cpu_count() or 1, 16))
    args = parser.parse_args(argv)
    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    texts = _texts(args.texts, args.n)
    rows = []
    for model_dir in args.model_dirs:
        cpu = OnnxClassifier.load(model_dir, "cpu", args.cpu_threads)
        gpu = OnnxClassifier.load(model_dir, "cuda")
        ids = cpu.tokenize(texts)
        agree = float(
            np.mean(np.argmax(cpu.predict(ids[:256]), 1) == np.argmax(gpu.predict(ids[:256]), 1))
        )
        for batch in (int(b) for b in args.batches.split(",")):
            cpu_rate = _throughput(cpu, ids, batch, repeats=1 if batch == 1 else 2)
            gpu_rate = _throughput(gpu, ids, batch)
            rows.append((cpu.info.variant, batch, cpu_rate, gpu_rate, agree))
    print(
        f"\n{len(texts)} articles, max_length {cpu.prep.max_length}, CPU threads {args.cpu_threads}\n"
    )
    print("| model | batch | CPU articles/s | CUDA articles/s | CUDA vs CPU | label agreement |")
    print("|---|---|---|---|---|---|")
    for variant, batch, c, g, a in rows:
        print(f"| {variant} | {batch} | {c:.0f} | {g:.0f} | {g / c:.1f}x | {a:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
