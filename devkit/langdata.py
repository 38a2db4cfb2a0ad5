"""Labelled text in several languages from Debian packages, for measuring language detection.

A development tool (not in the serving image). It fetches Debian packages with
``apt-get download`` (nothing is installed), unpacks them with ``dpkg-deb -x`` into
``.cache/langdata/`` (once; later calls reuse the cache) and turns their text into prose:

* translated manual pages (``manpages-de``/``-es``/``-it``/``-tr``/``-fr``; English ``manpages``),
  roff markup stripped;
* fortunes (``fortunes-de``/``-es``/``-it``; English ``fortunes-min``);
* the Debian Reference (``debian-reference-de``/``-es``/``-it``/``-en``), HTML paragraphs;
* Reuters-21578 business stories (acquisitions, crude oil) shipped by ``r-cran-tm``.

Translations leave some paragraphs untranslated, so a paragraph is kept for its package's
language only when that language's common function words clearly outnumber every other
language's (:func:`vote`, a short word list per language written here, independent of any
detection library). Everything is deterministic: sorted file lists, fixed seeds.

    python -m devkit.langdata            # fetch (first time) and print a one-line summary
"""

from __future__ import annotations

import argparse
import gzip
import html
import logging
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "langdata"
LANGS = ("de", "es", "it", "tr", "fr", "en")
SEED = 20240611

#: kind -> (shortest, longest) characters of a sample
KINDS: dict[str, tuple[int, int]] = {
    "headline": (40, 60),
    "short": (240, 300),
    "article": (1000, 3000),
}

#: language -> {package: source type}
PACKAGES: dict[str, dict[str, str]] = {
    "de": {"manpages-de": "man", "fortunes-de": "fortune", "debian-reference-de": "html"},
    "es": {"manpages-es": "man", "fortunes-es": "fortune", "debian-reference-es": "html"},
    "it": {"manpages-it": "man", "fortunes-it": "fortune", "debian-reference-it": "html"},
    "tr": {"manpages-tr": "man"},
    "fr": {"manpages-fr": "man"},
    "en": {"manpages": "man", "fortunes-min": "fortune", "debian-reference-en": "html"},
}
REUTERS_PACKAGE = "r-cran-tm"
ALL_PACKAGES = tuple(sorted({p for pk in PACKAGES.values() for p in pk} | {REUTERS_PACKAGE}))


class LangDataError(RuntimeError):
    """The Debian packages cannot be fetched or unpacked."""


@dataclass(frozen=True)
class Sample:
    lang: str
    kind: str
    text: str
    source: str


@dataclass
class Document:
    """One man page, one fortune file or one Debian Reference chapter: prose paragraphs in
    order, each with the heading it stands under."""

    lang: str
    source: str
    paragraphs: list[tuple[str, str]] = field(default_factory=list)  # (heading, text)


# ---------------------------------------------------------------- fetching


def fetch(packages: Iterable[str] = ALL_PACKAGES, cache: Path = DEFAULT_CACHE) -> Path:
    """Download and unpack ``packages`` under ``cache/root/<package>`` (those already there are
    kept). Returns ``cache/root``. Raises :class:`LangDataError` if apt or dpkg-deb fails."""
    root = cache / "root"
    missing = sorted(p for p in set(packages) if not (root / p / ".unpacked").is_file())
    if not missing:
        return root
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise LangDataError(f"{tool} not found: devkit.langdata needs a Debian system")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    log.info("langdata.fetch packages=%s", " ".join(missing))
    try:
        subprocess.run(
            ["apt-get", "download", "-q", *missing],
            cwd=debs,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or e.stdout or "").strip().splitlines()[-3:]
        raise LangDataError(
            f"apt-get download {' '.join(missing)} failed ({'; '.join(tail)}); "
            "run `apt-get update` first, and check that the Debian archive is reachable"
        ) from e
    except subprocess.TimeoutExpired as e:
        raise LangDataError("apt-get download did not finish in 600 s") from e
    for pkg in missing:
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not found:
            raise LangDataError(f"apt-get download left no {pkg}_*.deb in {debs}")
        target = root / pkg
        shutil.rmtree(target, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            try:
                subprocess.run(
                    ["dpkg-deb", "-x", str(found[-1]), tmp],
                    check=True,
                    capture_output=True,
                    text=True,
                )
            except subprocess.CalledProcessError as e:
                raise LangDataError(f"dpkg-deb -x {found[-1].name}: {e.stderr.strip()}") from e
            (Path(tmp) / ".unpacked").write_text(found[-1].name + "\n")
            Path(tmp).rename(target)
    return root


def package_versions(cache: Path = DEFAULT_CACHE) -> dict[str, str]:
    """``{package: .deb file name}`` of what is unpacked (what the samples came from)."""
    root = cache / "root"
    return {p.parent.name: p.read_text().strip() for p in sorted(root.glob("*/.unpacked"))}


# ---------------------------------------------------------------- roff

_ROFF_CHARS = {
    "em": "\u2014",
    "en": "\u2013",
    "hy": "-",
    "aq": "'",
    "dq": '"',
    "lq": "\u201c",
    "rq": "\u201d",
    "oq": "\u2018",
    "cq": "\u2019",
    "bu": "\u2022",
    "co": "\u00a9",
    "rg": "\u00ae",
    "de": "\u00b0",
    "mu": "\u00d7",
    "<=": "\u2264",
    ">=": "\u2265",
    "ti": "~",
    "ha": "^",
    "rs": "\\",
    "Fo": "\u00ab",
    "Fc": "\u00bb",
}
_ROFF_BREAK = re.compile(r"^[.'](?:SH|SS|PP|P|LP|TP|IP|HP|sp|br|RS|RE|TQ|Sh|Ss|Pp|It|Bl|El)\b")
_ROFF_FONT = {".B", ".I", ".SM", ".SB"}  # arguments are text, joined by spaces
_ROFF_ALTERNATING = {".BR", ".RB", ".IR", ".RI", ".BI", ".IB"}  # arguments are text, joined
_ROFF_NOFILL = {".nf": ".fi", ".EX": ".EE", ".TS": ".TE", ".Bd": ".Ed", ".EQ": ".EN"}
_ESCAPES = re.compile(
    r"""\\(?:
        f(?:\[[^\]]*\]|\(..|.)      # font changes
      | s[-+]?(?:\d+|\(\d\d|\[\d+\]) # size changes
      | \*(?:\[[^\]]*\]|\(..|.)     # strings
      | [nk](?:\[[^\]]*\]|\(..|.)   # registers, marks
      | [hvwlLoDbxXZHSN]'[^']*'     # motions, widths, drawing
      | [&%|^,/0:cdrtupazyE!)]      # zero-width and spacing
    )""",
    re.VERBOSE,
)
_SPECIAL = re.compile(r"\\(?:\((..)|\[([^\]]*)\])")


def roff_inline(line: str) -> str:
    """One line of roff text without its escapes: fonts, sizes, strings removed, named
    characters (``\\(em``, ``\\[lq]``) as Unicode where common, ``\\-`` as ``-``."""
    line = line.split('\\"', 1)[0]  # comment to end of line
    line = line.replace("\\\\", "\\e")
    line = _SPECIAL.sub(lambda m: _ROFF_CHARS.get(m.group(1) or m.group(2), ""), line)
    line = _ESCAPES.sub("", line)
    line = line.replace("\\-", "-").replace("\\~", " ").replace("\\ ", " ")
    line = line.replace("\\e", "\x00")  # a printed backslash, kept from the next step
    line = re.sub(r"\\(.)", r"\1", line)
    return line.replace("\x00", "\\")


def roff_paragraphs(source: str) -> list[tuple[str, str]]:
    """Prose paragraphs of a man page as (section heading, text).

    Crude on purpose: request lines (``.`` or ``'``) are dropped and end a paragraph, except
    the font macros (``.B``, ``.BR``, ...) whose arguments are text;
    no-fill blocks (``.nf``, ``.EX``, ``.TS`` tables, ...) are dropped whole; the tag line
    after ``.TP`` (an option) is dropped; escapes are removed; paragraphs that do not look
    like prose (:func:`is_prose`) are dropped."""
    out: list[tuple[str, str]] = []
    heading = ""
    current: list[str] = []
    skip_until: str | None = None
    tag_next = False

    def flush() -> None:
        text = " ".join(" ".join(current).split())
        current.clear()
        if is_prose(text):
            out.append((heading, text))

    for raw in source.splitlines():
        stripped = raw.strip()
        if skip_until is not None:
            if stripped.startswith(skip_until):
                skip_until = None
            continue
        if stripped[:1] in (".", "'"):
            request = stripped.split(None, 1)
            name = request[0] if request else ""
            if name in _ROFF_NOFILL:
                flush()
                skip_until = _ROFF_NOFILL[name]
            elif name in (".SH", ".SS", ".Sh", ".Ss"):
                flush()
                heading = roff_inline(request[1]).strip().strip('"') if len(request) > 1 else ""
            elif _ROFF_BREAK.match(stripped):
                flush()
                tag_next = name in (".TP", ".TQ")
            elif name in _ROFF_FONT or name in _ROFF_ALTERNATING:
                if tag_next:
                    tag_next = False
                    continue
                args = [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', stripped)[1:]]
                glue = " " if name in _ROFF_FONT else ""
                current.append(roff_inline(glue.join(args)))
            continue
        if not stripped:
            flush()
            continue
        if tag_next:
            tag_next = False
            continue
        current.append(roff_inline(raw))
    flush()
    return out


def man_title(source: str) -> str:
    """The one-line description of a man page (its NAME section), roff stripped."""
    lines = source.splitlines()
    for i, raw in enumerate(lines):
        if raw.startswith((".SH", ".Sh")):
            parts: list[str] = []
            for nxt in lines[i + 1 : i + 8]:
                if nxt[:1] in (".", "'") or not nxt.strip():
                    if parts or nxt.startswith((".SH", ".Sh")):
                        break
                    continue
                parts.append(roff_inline(nxt))
            return " ".join(" ".join(parts).split())
    return ""


# ---------------------------------------------------------------- prose

_CODEY = re.compile(r"[/_=<>{}\[\]$\\|@#;*`]|^-|\(\)$")


def is_prose(text: str, min_chars: int = 40) -> bool:
    """Looks like sentences: long enough, at least six words, mostly letters, few tokens that
    look like code, paths or options, not shouting."""
    if len(text) < min_chars:
        return False
    words = text.split()
    if len(words) < 6:
        return False
    chars = "".join(words)
    letters = sum(c.isalpha() for c in chars)
    if letters < 0.8 * len(chars):
        return False
    if sum(bool(_CODEY.search(w)) for w in words) > 0.15 * len(words):
        return False
    upper = sum(c.isupper() for c in chars)
    return upper <= 0.3 * letters


# Common function words, written here. A word in two or more lists counts for none.
_FUNCTION_WORDS = {
    "en": "the and of to is that for with are this be from by it which or have not but they "
    "has can will an their been were when there if would all more its into only also than "
    "other these should may such what who we you your he she them then because about after "
    "before over between does used must any each",
    "de": "der die das und ist nicht mit von den dem des ein eine einen einer auf für werden "
    "wird sich auch oder sind zu bei nach wenn nur aus noch kann diese dieser dieses wie über "
    "durch wurde sie ich wir aber dass im zum zur vom kein keine können muss",
    "es": "el los las que y del se por con para es un al lo como más pero sus su este esta "
    "está son ha sobre entre cuando también hay puede sin sólo ya todos donde desde usted "
    "archivo cual",
    "it": "il di che è per non della delle degli dei gli nel nella sono alla anche come più "
    "questo questa ma lo da si ha essere può viene quando dove tutti molto ogni perché cosa "
    "io file un una",
    "fr": "le les des et est pour dans qui pas sur une au aux avec ce cette sont par ne du il "
    "plus être peut ou mais leur été fichier comme tout nous vous elle ces un",
    "tr": "ve bir bu için ile da olarak olan gibi daha çok ise veya değil kadar sonra göre her "
    "ancak şey ya yok var olduğu şu ki mi dosya ben sen biz eğer bunu bunlar",
}


@lru_cache(maxsize=1)
def _word_langs() -> dict[str, str]:
    seen: dict[str, set[str]] = defaultdict(set)
    for lang, words in _FUNCTION_WORDS.items():
        for w in words.split():
            seen[w].add(lang)
    return {w: next(iter(langs)) for w, langs in seen.items() if len(langs) == 1}


_WORD = re.compile(r"[^\W\d_]+")


def vote(text: str) -> dict[str, int]:
    """Function words of each language in ``text``."""
    table = _word_langs()
    counts: dict[str, int] = defaultdict(int)
    for w in _WORD.findall(text.lower()):
        lang = table.get(w)
        if lang:
            counts[lang] += 1
    return dict(counts)


def clearly(text: str, lang: str) -> bool:
    """``lang``'s function words: at least two, and at least twice any other language's."""
    counts = vote(text)
    own = counts.get(lang, 0)
    other = max((n for k, n in counts.items() if k != lang), default=0)
    return own >= 2 and own >= 2 * other


def cut(text: str, limit: int) -> str:
    """``text`` cut on whitespace to at most ``limit`` characters (hard cut if one word)."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    space = head.rfind(" ")
    return (head[:space] if space > 0 else text[:limit]).rstrip()


# ---------------------------------------------------------------- HTML, fortunes, Reuters


class _HtmlParagraphs(HTMLParser):
    """Text of ``<p>`` elements outside tables and ``<pre>``, with the last heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[tuple[str, str]] = []
        self.heading = ""
        self._in_heading = False
        self._heading_parts: list[str] = []
        self._parts: list[str] | None = None
        self._blocked = 0  # inside table/pre

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("table", "pre"):
            self._blocked += 1
        elif tag == "p" and not self._blocked:
            self._parts = []
        elif tag in ("h1", "h2", "h3", "h4"):
            self._in_heading = True
            self._heading_parts = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("table", "pre"):
            self._blocked = max(self._blocked - 1, 0)
        elif tag == "p" and self._parts is not None:
            text = " ".join("".join(self._parts).split())
            self._parts = None
            if is_prose(text):
                self.paragraphs.append((self.heading, text))
        elif tag in ("h1", "h2", "h3", "h4") and self._in_heading:
            self._in_heading = False
            title = " ".join("".join(self._heading_parts).split())
            self.heading = re.sub(r"^[\dA-Z]+(?:\.\d+)*\.\s*", "", title)

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self._heading_parts.append(data)
        if self._parts is not None and not self._blocked:
            self._parts.append(data)


def html_paragraphs(source: str) -> list[tuple[str, str]]:
    """Prose ``<p>`` paragraphs of an HTML page as (heading, text); tables and code dropped."""
    parser = _HtmlParagraphs()
    parser.feed(source)
    parser.close()
    return parser.paragraphs


def fortune_entries(source: str) -> list[str]:
    """Entries of a fortune file (``%`` lines between them), lines joined, attribution lines
    (``-- Author``) dropped, only prose kept."""
    entries = []
    for block in re.split(r"^%\s*$", source, flags=re.MULTILINE):
        lines = [ln for ln in block.splitlines() if not re.match(r"^\s*(?:--|\u2014)", ln)]
        text = " ".join(" ".join(lines).split())
        if is_prose(text, min_chars=30):
            entries.append(text)
    return entries


def _reuters_record(doc: str, source: str) -> dict[str, str] | None:
    def tag(name: str) -> str:
        m = re.search(rf"<{name}>(.*?)</{name}>", doc, re.DOTALL)
        return html.unescape(m.group(1)) if m else ""

    newid = re.search(r'NEWID="(\d+)"', doc)
    body = tag("BODY")
    if not newid or not body.strip():
        return None
    body = re.sub(r"\s*Reuter\s*[\x03]?\s*$", "", body.replace("&#3;", ""))
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s{2,}", body)]
    return {
        "id": f"reuters-{int(newid.group(1))}",
        "title": " ".join(tag("TITLE").split()),
        "text": "\n\n".join(p for p in paragraphs if p),
        "source": source,
    }


def reuters_business(cache: Path = DEFAULT_CACHE) -> list[dict[str, str]]:
    """Reuters business stories shipped by ``r-cran-tm``: Reuters-21578 acquisitions
    (``texts/acq``), crude oil (``texts/crude``), the ten of ``texts/reuters-21578.xml``
    and one RCV1 story; ``{"id", "title", "text", "source"}``, by id, without duplicates."""
    root = fetch([REUTERS_PACKAGE], cache) / REUTERS_PACKAGE
    texts = root / "usr/lib/R/site-library/tm/texts"
    if not texts.is_dir():
        raise LangDataError(f"{REUTERS_PACKAGE} has no {texts}: its layout changed")
    found: dict[str, dict[str, str]] = {}
    for sub in ("acq", "crude"):
        for path in sorted((texts / sub).glob("*.xml")):
            rec = _reuters_record(
                path.read_text(encoding="utf-8", errors="replace"), f"reuters-{sub}"
            )
            if rec:
                found.setdefault(rec["id"], rec)
    whole = texts / "reuters-21578.xml"
    if whole.is_file():
        raw = whole.read_text(encoding="utf-8", errors="replace")
        for doc in re.findall(r"<REUTERS.*?</REUTERS>", raw, re.DOTALL):
            rec = _reuters_record(doc, "reuters-21578")
            if rec:
                found.setdefault(rec["id"], rec)
    for path in sorted(texts.glob("rcv1_*.xml")):
        raw = path.read_text(encoding="iso-8859-1")
        title = re.search(r"<headline>(.*?)</headline>", raw, re.DOTALL)
        paras = re.findall(r"<p>(.*?)</p>", raw, re.DOTALL)
        if paras:
            found.setdefault(
                f"rcv1-{path.stem.split('_')[-1]}",
                {
                    "id": f"rcv1-{path.stem.split('_')[-1]}",
                    "title": html.unescape(" ".join(title.group(1).split())) if title else "",
                    "text": "\n\n".join(html.unescape(" ".join(p.split())) for p in paras),
                    "source": "reuters-rcv1",
                },
            )
    return sorted(found.values(), key=lambda r: (len(r["id"]), r["id"]))


# ---------------------------------------------------------------- documents and samples


def _read(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


def _man_documents(lang: str, pkg: str, root: Path) -> Iterator[Document]:
    for path in sorted((root / "usr/share/man").rglob("*.gz")):
        source = _read(path)
        if source.lstrip().startswith(".so "):
            continue  # a link to another page
        name = f"{pkg}:{path.parent.name}/{path.name.removesuffix('.gz')}"
        title = man_title(source)
        doc = Document(lang, name)
        doc.paragraphs = [(title, text) for _, text in roff_paragraphs(source)]
        yield doc


def _fortune_documents(lang: str, pkg: str, root: Path) -> Iterator[Document]:
    base = root / "usr/share/games"
    files: dict[Path, Path] = {}
    for path in sorted(base.rglob("*")):
        if "off" in path.relative_to(base).parts or path.suffix == ".dat":
            continue
        if path.is_file() and not path.with_name(path.name + ".u8").exists():
            files.setdefault(path.resolve(), path)  # .u8 (UTF-8) preferred; one per target
    for real, path in sorted(files.items(), key=lambda kv: str(kv[1])):
        doc = Document(lang, f"{pkg}:{path.name.removesuffix('.u8')}")
        doc.paragraphs = [("", t) for t in fortune_entries(_read(real))]
        yield doc


def _html_documents(lang: str, pkg: str, root: Path) -> Iterator[Document]:
    for path in sorted((root / "usr/share/debian-reference").glob("*.html")):
        doc = Document(lang, f"{pkg}:{path.name}")
        doc.paragraphs = html_paragraphs(_read(path))
        yield doc


_READERS = {"man": _man_documents, "fortune": _fortune_documents, "html": _html_documents}


@lru_cache(maxsize=8)
def documents(lang: str, cache: Path = DEFAULT_CACHE) -> tuple[Document, ...]:
    """Every document of ``lang`` with only the paragraphs clearly in ``lang``."""
    if lang not in PACKAGES:
        raise ValueError(f"no Debian text for language {lang!r} (have {', '.join(LANGS)})")
    root = fetch(PACKAGES[lang], cache)
    docs = []
    for pkg, kind in PACKAGES[lang].items():
        for doc in _READERS[kind](lang, pkg, root / pkg):
            doc.paragraphs = [(h, t) for h, t in doc.paragraphs if clearly(t, lang)]
            if doc.paragraphs:
                docs.append(doc)
    return tuple(docs)


def _pieces(doc: Document, kind: str) -> Iterator[tuple[str, str]]:
    """(title, text) samples of one kind from one document."""
    low, high = KINDS[kind]
    if kind != "article":
        for _, text in doc.paragraphs:
            piece = cut(text, high)
            if len(piece) >= low:
                yield "", piece
        return
    if doc.source.split(":")[0].startswith("fortunes"):
        return  # fortunes are aphorisms, not articles
    chunk: list[str] = []
    title = ""
    for heading, text in doc.paragraphs:
        if not chunk:
            title = heading
        chunk.append(text)
        joined = "\n\n".join(chunk)
        if len(joined) >= low:
            yield title, cut(joined, high)
            chunk = []


def _interleaved(lang: str, kind: str, cache: Path) -> list[tuple[str, str, str]]:
    """(source, title, text) of ``lang`` and ``kind``: each package's pieces shuffled with a
    fixed seed, packages taken in turn, so no one package dominates the first ``n``."""
    per_pkg: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for doc in documents(lang, cache):
        for title, text in _pieces(doc, kind):
            per_pkg[doc.source.split(":")[0]].append((doc.source, title, text))
    queues = []
    for pkg in sorted(per_pkg):
        items = per_pkg[pkg]
        random.Random(f"{SEED}:{lang}:{kind}:{pkg}").shuffle(items)
        queues.append(items)
    out: list[tuple[str, str, str]] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def samples(lang: str, kind: str, n: int = 200, cache: Path = DEFAULT_CACHE) -> list[Sample]:
    """Up to ``n`` samples of ``lang`` (``LANGS``) and ``kind`` (``KINDS``), deterministic."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (have {', '.join(KINDS)})")
    return [Sample(lang, kind, text, src) for src, _, text in _interleaved(lang, kind, cache)[:n]]


def all_samples(
    langs: Sequence[str] = LANGS,
    kinds: Sequence[str] = tuple(KINDS),
    n: int = 200,
    cache: Path = DEFAULT_CACHE,
) -> list[Sample]:
    """:func:`samples` for every language and kind, in that order."""
    return [s for lang in langs for kind in kinds for s in samples(lang, kind, n, cache)]


def foreign_articles(
    langs: Sequence[str] = ("de", "es", "it", "tr"), n: int = 20, cache: Path = DEFAULT_CACHE
) -> list[dict[str, str]]:
    """Up to ``n`` article-like records per language, 1,000-3,000 characters of consecutive
    paragraphs of one man page or Debian Reference chapter: ``{"id", "title", "text",
    "source"}``; the title is the page's one-line description or the section heading."""
    out: list[dict[str, str]] = []
    for lang in langs:
        for i, (src, title, text) in enumerate(_interleaved(lang, "article", cache)[:n]):
            out.append(
                {
                    "id": f"langdata-{lang}-{i:04d}",
                    "title": title or cut(text, 60),
                    "text": text,
                    "source": src,
                    "lang": lang,
                }
            )
    return out


# ---------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.langdata", description=__doc__)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("-n", type=int, default=200, help="samples per language and kind")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        fetch(ALL_PACKAGES, args.cache)
        counts = []
        for lang in LANGS:
            sizes = [len(samples(lang, k, args.n, args.cache)) for k in KINDS]
            counts.append(f"{lang} {'/'.join(map(str, sizes))}")
        reuters = reuters_business(args.cache)
    except LangDataError as e:
        print(f"langdata: {e}", file=sys.stderr)  # noqa: T201
        return 1
    print(  # noqa: T201
        f"langdata: {len(ALL_PACKAGES)} packages in {args.cache}; samples per language "
        f"({'/'.join(KINDS)}, at most {args.n}): {', '.join(counts)}; "
        f"Reuters business stories: {len(reuters)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
