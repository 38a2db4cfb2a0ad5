"""newsclf.cli and newsclf.logs: the one error line and the one logging set-up every
``python -m`` entry point uses, and a check that each entry point does use them."""

from __future__ import annotations

import ast
import io
import json
import logging
from pathlib import Path

import pytest

from newsclf import logs
from newsclf.cli import EXIT_FAILED, EXIT_INTERRUPTED, CliError, fail, guard

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = [
    "consumer/cli.py",
    "consumer/service.py",
    "consumer/redrive/cli.py",
    "consumer/reviewed.py",
    "consumer/produce.py",
    "consumer/contracts.py",
    "training/cli.py",
    "export/cli.py",
]


def test_fail_writes_one_line_with_the_program_and_returns_the_code(capsys):
    assert fail("no such file: x.csv", 3) == 3
    assert fail("bad flag", 2, prog="python -m export") == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: no such file: x.csv",
        "python -m export: error: bad flag",
    ]


def test_guard_reports_cli_and_known_errors_and_lets_bugs_through(capsys):
    def raises(exc):
        def body() -> int:
            raise exc

        return body

    assert guard(raises(CliError("the corpus is empty", 4))) == 4
    assert guard(raises(OSError("disk full")), known=(OSError,)) == EXIT_FAILED
    assert guard(raises(KeyboardInterrupt())) == EXIT_INTERRUPTED
    assert guard(lambda: 0) == 0
    assert capsys.readouterr().err.splitlines() == [
        "error: the corpus is empty",
        "error: disk full",
        "error: interrupted",
    ]
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        guard(lambda: 1 // 0, known=(OSError,))


def test_logs_json_and_text_lines_carry_the_extras(monkeypatch):
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        for fmt in ("json", "text"):
            err = io.StringIO()
            monkeypatch.setattr("sys.stderr", err)
            logs.configure("INFO", fmt)
            logging.getLogger("newsclf.test").info("trained", extra={"epoch": 2})
            line = err.getvalue().strip()
            assert "\n" not in line
            if fmt == "json":
                got = json.loads(line)
                assert got["msg"] == "trained" and got["epoch"] == 2 and got["level"] == "info"
            else:
                assert "info" in line and "newsclf.test: trained epoch=2" in line
        mine = [h for h in root.handlers if isinstance(h, logs._StderrHandler)]
        assert len(mine) == 1  # configured twice: its own handler replaced, not added
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


@pytest.mark.parametrize("path", ENTRY_POINTS)
def test_every_entry_point_reports_errors_and_logs_through_the_shared_helpers(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "newsclf.cli" in imported, f"{path}: errors not through newsclf.cli"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr != "basicConfig", f"{path}:{node.lineno}: use newsclf.logs"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not node.value.startswith("error: "), (
                f"{path}:{node.lineno}: an error line written by hand; use newsclf.cli.fail"
            )
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            assert not (
                isinstance(first, ast.Constant) and str(first.value).startswith("error: ")
            ), f"{path}:{node.lineno}: an error line written by hand; use newsclf.cli.fail"
