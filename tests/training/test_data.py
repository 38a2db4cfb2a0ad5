"""Loaders: folder-per-label, CSV, JSONL; cleaning and deduplication."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from newsclf.textprep import compose
from training.data import default_data_dir, load_dataset
from training.errors import TrainingError


def write_folder(root: Path, articles: dict[str, list[str]]) -> Path:
    for label, texts in articles.items():
        (root / label).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / label / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    return root


def test_folder_loader_sorts_labels_composes_and_dedupes(tmp_path, caplog):
    root = write_folder(
        tmp_path / "news",
        {
            "tech": ["Chips get faster\n\nA new  chip\nwas shown.", "Phones\n\nNew phone."],
            "business": [
                "Shares rise\n\nMarkets up.",
                "Shares rise\n\nMarkets up.",  # exact duplicate
                "   \n\n  ",  # empty
            ],
            "arts": ["Film wins\n\nA prize.", "Chips get faster\n\nA new chip was shown."],
        },
    )
    with caplog.at_level(logging.INFO, logger="training.data"):
        ds = load_dataset(root)
    assert ds.label_names == ["arts", "business", "tech"]
    # the tech article and the arts article compose to the same text: conflicting labels
    assert ds.stats.as_dict() == {
        "read": 7,
        "empty": 1,
        "duplicates": 1,
        "conflicting": 2,
        "kept": 3,
    }
    assert sorted(zip(ds.texts, ds.labels, strict=True)) == sorted(
        [("Phones New phone.", 2), ("Shares rise Markets up.", 1), ("Film wins A prize.", 0)]
    )
    assert "duplicates=1" in caplog.text and "empty=1" in caplog.text


def test_folder_article_title_is_first_line(tmp_path):
    root = write_folder(tmp_path, {"a": ["Title line\n\nBody one.\n\nBody two."], "b": ["x\ny"]})
    ds = load_dataset(root, "folder")
    assert ds.texts[0] == compose("Title line", "Body one.\n\nBody two.")
    assert ds.texts[0] == "Title line Body one. Body two."


def test_windows_1252_file_is_read(tmp_path):
    root = write_folder(tmp_path, {"a": ["plain"], "b": ["other"]})
    (root / "a" / "999.txt").write_bytes("Fee\n\nA \xa315m fee.".encode("cp1252"))
    ds = load_dataset(root)
    assert "Fee A £15m fee." in ds.texts


def test_csv_with_custom_columns_and_title(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text(
        "headline,body,topic\n"
        'Rates cut,"The bank cut rates, again.",business\n'
        "Goal!,Late winner.,sport\n"
        "Goal!,Late winner.,sport\n",
        encoding="utf-8",
    )
    ds = load_dataset(path, text_column="body", label_column="topic", title_column="headline")
    assert ds.label_names == ["business", "sport"]
    assert ds.texts == ["Rates cut The bank cut rates, again.", "Goal! Late winner."]
    assert ds.labels == [0, 1]
    assert ds.stats.duplicates == 1


def test_jsonl_with_custom_columns_and_numeric_labels(tmp_path):
    path = tmp_path / "news.jsonl"
    rows = [
        {"content": "first article", "y": 1, "extra": True},
        {"content": "second article", "y": 0},
        {"content": "", "y": 0},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    ds = load_dataset(path, text_column="content", label_column="y")
    assert ds.label_names == ["0", "1"]
    assert ds.texts == ["first article", "second article"] and ds.labels == [1, 0]
    assert ds.stats.empty == 1


def test_heldout_format_loads_back(tmp_path):
    path = tmp_path / "heldout.jsonl"
    path.write_text('{"text": "a b", "label": "x"}\n{"text": "c d", "label": "y"}\n')
    ds = load_dataset(path)
    assert ds.texts == ["a b", "c d"] and ds.label_names == ["x", "y"]


def test_bbc_default_corpus():
    assert default_data_dir().is_dir()
    ds = load_dataset()
    assert ds.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert ds.stats.read == 2225
    assert ds.stats.duplicates == 100 and ds.stats.conflicting == 0 and ds.stats.empty == 0
    assert len(ds) == len(set(ds.texts)) == 2125


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ("text,label\na,x\n", {"label_column": "topic"}, "no label column 'topic'"),
        ("body,label\na,x\n", {}, "no text column 'text'"),
        ("text,label\n", {}, "no usable articles"),
        ("text,label\na,x\nb,x\n", {}, "single class"),
    ],
)
def test_bad_csv_input_is_a_training_error(tmp_path, content, kwargs, message):
    path = tmp_path / "d.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TrainingError, match=message):
        load_dataset(path, **kwargs)


def test_bad_paths_and_formats(tmp_path):
    with pytest.raises(TrainingError, match="data not found"):
        load_dataset(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TrainingError, match="cannot tell the format"):
        load_dataset(tmp_path / "notes.txt")
    with pytest.raises(TrainingError, match="needs a directory"):
        load_dataset(tmp_path / "notes.txt", "folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TrainingError, match="no label sub-folders"):
        load_dataset(empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "x"}\nnot json\n')
    with pytest.raises(TrainingError, match=r"bad.jsonl:2: not valid JSON"):
        load_dataset(bad)
