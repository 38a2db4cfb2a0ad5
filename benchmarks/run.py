"""``make bench``: every benchmark, figures and ratios side by side, printed as Markdown.

python -m benchmarks.run [--model-dir artifacts/model] [--checkpoint artifacts/checkpoint]
                         [--only serving,textprep,batching,variants,tradeoff,e2e] [--bootstrap HOST:PORT]

``serving`` and ``textprep`` need no trained model (serving uses the 1-layer test model);
the others read ``artifacts/`` (``make train export``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

from newsclf import logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--checkpoint", type=Path, default=Path("artifacts/checkpoint"))
    parser.add_argument("--work", type=Path, default=Path("artifacts/bench"))
    parser.add_argument("--only", default="serving,textprep,batching,variants,tradeoff,e2e")
    parser.add_argument("--serving-n", type=int, default=20_000, help="backlog of the serving run")
    parser.add_argument("--bootstrap", default=None, help="a broker to use (default: embedded)")
    args = parser.parse_args(argv)
    logs.configure("WARNING", "text")
    wanted = set(args.only.split(","))
    print(
        f"# news-classifier benchmarks\n\nmachine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    if "serving" in wanted:
        from benchmarks import bench_serving

        argv_serving = ["--n", str(args.serving_n)]
        if args.bootstrap:
            argv_serving += ["--bootstrap", args.bootstrap]
        bench_serving.main(argv_serving)
    if "textprep" in wanted:
        from benchmarks import bench_textprep

        bench_textprep.main()
    needs_model = wanted & {"batching", "variants", "tradeoff", "e2e"}
    if needs_model and not (args.model_dir / "manifest.json").is_file():
        print(
            f"error: no model in {args.model_dir}: run `make train export` first", file=sys.stderr
        )
        return 2
    if "batching" in wanted:
        from benchmarks import bench_batching

        bench_batching.run(args.model_dir)
    if "variants" in wanted:
        from benchmarks import bench_variants

        bench_variants.run(args.checkpoint, args.work)
    if "tradeoff" in wanted:
        from benchmarks import bench_tradeoff

        bench_tradeoff.run(args.model_dir)
    if "e2e" in wanted:
        from benchmarks import bench_e2e

        bench_e2e.run(args.bootstrap, args.model_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
