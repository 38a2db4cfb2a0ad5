"""``python -m export``: every bad input ends with one line on stderr and a non-zero exit,
before any model is loaded, and leaves no output behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from export.cli import EXIT_FAILED, EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[2]


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], code: int, needle: str) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("python -m export: error: ")
    assert needle in lines[0]
    return lines[0]


def test_missing_checkpoint(capsys, tmp_path: Path) -> None:
    _fails(capsys, [str(tmp_path / "nope"), str(tmp_path / "out")], EXIT_FAILED, "does not exist")
    assert not (tmp_path / "out").exists()


def test_checkpoint_is_a_file(capsys, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    _fails(capsys, [str(tmp_path / "file"), str(tmp_path / "out")], EXIT_FAILED, "not a directory")


def test_not_a_checkpoint(capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    line = _fails(
        capsys, [str(tmp_path / "empty"), str(tmp_path / "out")], EXIT_FAILED, "not a checkpoint"
    )
    for name in ("config.json", "tokenizer.json", "preprocessing.json", "model.safetensors"):
        assert name in line


def test_config_without_label_map(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (fake_checkpoint / "config.json").write_text(json.dumps({"model_type": "bert"}))
    _fails(capsys, [str(fake_checkpoint), str(tmp_path / "out")], EXIT_FAILED, "no id2label")


def test_unknown_variant(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    argv = [str(fake_checkpoint), str(tmp_path / "out"), "--variant", "int4"]
    _fails(capsys, argv, EXIT_USAGE, "invalid choice: 'int4'")


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--min-macro-f1", "1.5"),
        ("--min-macro-f1", "good"),
        ("--parity-samples", "0"),
        ("--opset", "-3"),
    ],
)
def test_bad_option_values(capsys, fake_checkpoint: Path, tmp_path: Path, flag, value) -> None:
    _fails(capsys, [str(fake_checkpoint), str(tmp_path / "out"), flag, value], EXIT_USAGE, flag)


def test_missing_arguments(capsys) -> None:
    _fails(capsys, [], EXIT_USAGE, "required")


def test_output_under_a_file(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    _fails(
        capsys, [str(fake_checkpoint), str(tmp_path / "file" / "out")], EXIT_FAILED, "cannot write"
    )


def test_output_is_a_file(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    _fails(capsys, [str(fake_checkpoint), str(tmp_path / "out")], EXIT_FAILED, "not a directory")
    assert (tmp_path / "out").read_text() == "x"


def test_output_is_someone_elses_directory(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("keep me")
    _fails(capsys, [str(fake_checkpoint), str(tmp_path / "out")], EXIT_FAILED, "refusing")
    assert (tmp_path / "out" / "notes.txt").read_text() == "keep me"


def test_eval_gate_refuses_a_weak_checkpoint(capsys, fake_checkpoint: Path, tmp_path: Path):
    argv = [str(fake_checkpoint), str(tmp_path / "out"), "--min-macro-f1", "0.8"]
    line = _fails(capsys, argv, EXIT_FAILED, "macro-F1 0.5000 is below the required 0.8")
    assert "refusing" in line
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["fake-checkpoint"]


def test_eval_gate_needs_a_report(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (fake_checkpoint / "eval_report.json").unlink()
    argv = [str(fake_checkpoint), str(tmp_path / "out"), "--min-macro-f1", "0.1"]
    _fails(capsys, argv, EXIT_FAILED, "eval_report.json is missing")


def test_eval_gate_needs_macro_f1(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (fake_checkpoint / "eval_report.json").write_text(json.dumps({"accuracy": 0.99}))
    argv = [str(fake_checkpoint), str(tmp_path / "out"), "--min-macro-f1", "0.1"]
    _fails(capsys, argv, EXIT_FAILED, "no numeric macro_f1")


def test_missing_parity_data(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    argv = [str(fake_checkpoint), str(tmp_path / "out"), "--parity-data", str(tmp_path / "x")]
    _fails(capsys, argv, EXIT_FAILED, "does not exist")


def test_no_heldout_and_no_parity_data(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (fake_checkpoint / "heldout.jsonl").unlink()
    _fails(capsys, [str(fake_checkpoint), str(tmp_path / "out")], EXIT_FAILED, "no parity data")


def test_malformed_parity_data(capsys, fake_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text('{"text": "fine"}\n{oops\n')
    argv = [str(fake_checkpoint), str(tmp_path / "out"), "--parity-data", str(tmp_path / "p.jsonl")]
    _fails(capsys, argv, EXIT_FAILED, "line 2 is not JSON")


def test_module_entry_point_fails_in_one_line(tmp_path: Path) -> None:
    """``python -m export`` itself: same one line, no traceback, and no heavy imports first."""
    proc = subprocess.run(
        [sys.executable, "-m", "export", str(tmp_path / "missing"), str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EXIT_FAILED
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"python -m export: error: checkpoint directory {tmp_path / 'missing'} does not exist"
    ]


def test_help(capsys) -> None:
    assert main(["--help"]) == 0
    assert "--variant" in capsys.readouterr().out


def test_api_rejects_unknown_variant_and_target(fake_checkpoint: Path, tmp_path: Path) -> None:
    from export.errors import ExportError
    from export.pipeline import export_model

    with pytest.raises(ExportError, match="unknown variant 'int4'"):
        export_model(fake_checkpoint, tmp_path / "out", "int4")
    with pytest.raises(ExportError, match="unknown int8 target 'avx9'"):
        export_model(fake_checkpoint, tmp_path / "out", "int8", int8_target="avx9")
    assert not (tmp_path / "out").exists()
