"""``make bench``: every benchmark, figures and ratios side by side, printed as Markdown.

python -m benchmarks.run [--model-dir artifacts/model] [--checkpoint artifacts/checkpoint]
                         [--only batching,variants,e2e] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

from consumer import logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--checkpoint", type=Path, default=Path("artifacts/checkpoint"))
    parser.add_argument("--work", type=Path, default=Path("artifacts/bench"))
    parser.add_argument("--only", default="batching,variants,e2e")
    parser.add_argument("--bootstrap", default=None, help="a broker to use (default: embedded)")
    args = parser.parse_args(argv)
    logs.configure("WARNING", "text")
    wanted = set(args.only.split(","))
    print(
        f"# news-classifier benchmarks\n\nmachine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    if not (args.model_dir / "manifest.json").is_file():
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
    if "e2e" in wanted:
        from benchmarks import bench_e2e

        bench_e2e.run(args.bootstrap, args.model_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
