"""Text preparation shared by training and serving: one implementation, so the model sees at
serving time exactly what it saw when it was trained and evaluated.

Pure Python + the ``tokenizers`` library: no torch, no transformers, so the serving install
stays small. Training passes ``hf_tokenizer.backend_tokenizer`` to :func:`encode_batch`; the
consumer loads ``tokenizer.json`` with ``tokenizers.Tokenizer.from_file``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from tokenizers import Tokenizer

PREPROCESSING_FILE = "preprocessing.json"

_WS = re.compile(r"\s+")
# C0/C1 control characters other than whitespace; they carry no meaning for the model.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def normalize_text(text: str) -> str:
    """NFC-normalise, drop control characters, collapse every run of whitespace to one space."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return _WS.sub(" ", text).strip()


def compose(title: str | None, text: str | None) -> str:
    """The model's input string for an article: title then body, normalised.

    Training reads a BBC file (title on the first line, body below) through the same function,
    so both sides see ``"<title> <body>"``.
    """
    parts = [p for p in (title, text) if p]
    return normalize_text(" ".join(parts))


@dataclass(frozen=True)
class Preprocessing:
    """How text becomes token ids; saved as ``preprocessing.json`` beside the model.

    ``max_length`` counts special tokens. When an article is longer, the first ``head_tokens``
    ids (the title and lead paragraph, with the leading special token) and the last
    ``max_length - head_tokens`` ids (the ending, with the trailing special token) are kept:
    head+tail truncation. ``head_tokens == max_length`` is plain head truncation.
    """

    max_length: int = 128
    head_tokens: int = 96
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.max_length < 2:
            raise ValueError(f"max_length must be at least 2, got {self.max_length}")
        if not 1 <= self.head_tokens <= self.max_length:
            raise ValueError(
                f"head_tokens must be between 1 and max_length ({self.max_length}), "
                f"got {self.head_tokens}"
            )

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / PREPROCESSING_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Preprocessing:
        path = Path(directory) / PREPROCESSING_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: raw[k] for k in ("max_length", "head_tokens", "pad_token_id")})
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{path} is missing") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is not a valid preprocessing file: {exc}") from exc


def head_tail(ids: Sequence[int], max_length: int, head_tokens: int) -> list[int]:
    """Keep the first ``head_tokens`` and the last ``max_length - head_tokens`` ids."""
    if len(ids) <= max_length:
        return list(ids)
    tail = max_length - head_tokens
    return list(ids[:head_tokens]) + (list(ids[-tail:]) if tail > 0 else [])


def prepare_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """Switch off the tokenizer's own truncation and padding: :func:`encode_batch` does both."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def encode_batch(
    tokenizer: Tokenizer, texts: Sequence[str], prep: Preprocessing
) -> list[list[int]]:
    """Token ids for each text, special tokens included, head+tail truncated to ``max_length``.

    One call into the Rust tokenizer for the whole batch (it parallelises internally).
    The tokenizer must have truncation and padding off (:func:`prepare_tokenizer`).
    """
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=True)
    return [head_tail(e.ids, prep.max_length, prep.head_tokens) for e in encodings]
