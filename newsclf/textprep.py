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

# C0/C1 control characters other than whitespace; they carry no meaning for the model.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def normalize_text(text: str) -> str:
    """NFC-normalise, drop control characters, collapse every run of whitespace to one space."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    # str.split() splits on exactly the characters regex \s matches (str.isspace), 3x faster
    return " ".join(text.split())


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


# Characters taken from each end of a long text per token the window keeps there, before
# tokenizing. Over all 2,225 BBC articles (MiniLM/BERT vocabulary) the densest 384-token head
# spans 5.5 characters per token, the densest 128-token tail 5.8 and 96-token head 6.0. With 8,
# no BBC text needs a second cut at 64, 128 or 512 tokens (with 6, 408 of them do at 64); a
# text whose cut pieces hold too few tokens is cut again with twice the characters, so the ids
# are those of tokenizing the whole text either way (benchmarks/bench_textprep.py), while memory
# stays bounded by the window, not by the message size.
CHARS_PER_TOKEN = 8
# Tokens a cut piece must hold beyond what the window keeps: the token at a cut may differ from
# the whole text's (byte-level BPE attaches the leading space to the next word).
_SPARE_TOKENS = 2


def _cut_head(text: str, chars: int) -> str:
    """The first ``chars`` characters, cut back to the last space (no word is split)."""
    piece = text[:chars]
    cut = piece.rfind(" ")
    return piece[:cut] if cut > 0 else piece


def _cut_tail(text: str, chars: int) -> str:
    """The last ``chars`` characters, cut forward past the first space."""
    piece = text[-chars:]
    cut = piece.find(" ")
    return piece[cut + 1 :] if 0 <= cut < len(piece) - 1 else piece


def _specials(mask: Sequence[int]) -> tuple[int, int]:
    """Special tokens at the front and at the back of an encoding."""
    front = 0
    while front < len(mask) and mask[front]:
        front += 1
    back = 0
    while back < len(mask) - front and mask[len(mask) - 1 - back]:
        back += 1
    return front, back


def encode_batch(
    tokenizer: Tokenizer, texts: Sequence[str], prep: Preprocessing
) -> list[list[int]]:
    """Token ids for each text, special tokens included, head+tail truncated to ``max_length``
    (:func:`encode_batch_marked` without the truncation marks)."""
    return encode_batch_marked(tokenizer, texts, prep)[0]


def encode_batch_marked(
    tokenizer: Tokenizer, texts: Sequence[str], prep: Preprocessing
) -> tuple[list[list[int]], list[bool]]:
    """Token ids for each text, special tokens included, head+tail truncated to ``max_length``,
    and for each text whether it was longer than the window (so the model did not read all of
    it).

    A text longer than the window's character budget is not tokenized whole: only a piece cut
    from each end at a space (``CHARS_PER_TOKEN`` characters per kept token) is, and the ids
    are checked to come out as those of the whole text (else the piece is cut again, twice as
    long). One call into the Rust tokenizer for the batch (it parallelises internally). The
    tokenizer must have truncation and padding off (:func:`prepare_tokenizer`).
    """
    head_n = prep.head_tokens
    tail_n = prep.max_length - prep.head_tokens
    head_chars = head_n * CHARS_PER_TOKEN
    tail_chars = tail_n * CHARS_PER_TOKEN
    out: list[list[int] | None] = [None] * len(texts)
    truncated = [False] * len(texts)
    todo = list(range(len(texts)))
    scale = 1
    while todo:
        pieces: list[str] = []
        plan: list[tuple[int, bool]] = []  # (text index, cut into head + tail pieces)
        for i in todo:
            text = texts[i]
            if len(text) <= scale * (head_chars + tail_chars) + 1:
                plan.append((i, False))
                pieces.append(text)
            else:
                plan.append((i, True))
                pieces.append(_cut_head(text, scale * head_chars))
                if tail_n:
                    pieces.append(_cut_tail(text, scale * tail_chars))
        # encode_batch_fast: the same ids and special-token mask, without character offsets
        encodings = tokenizer.encode_batch_fast(pieces, add_special_tokens=True)
        again = []
        k = 0
        for i, cut in plan:
            first = encodings[k]
            k += 1
            if not cut:
                out[i] = head_tail(first.ids, prep.max_length, head_n)
                truncated[i] = len(first.ids) > prep.max_length
                continue
            front, back = _specials(first.special_tokens_mask)
            ok = len(first.ids) - back >= head_n + _SPARE_TOKENS
            ids = list(first.ids[:head_n])
            if tail_n:
                last = encodings[k]
                k += 1
                front, back = _specials(last.special_tokens_mask)
                ok = ok and len(last.ids) - front >= tail_n + _SPARE_TOKENS
                ids += last.ids[-tail_n:]
            if ok:  # both pieces hold more than the window keeps: the text is longer
                out[i] = ids
                truncated[i] = True
            else:
                again.append(i)
        todo = again
        scale *= 2
    assert all(ids is not None for ids in out)
    return out, truncated  # type: ignore[return-value]
