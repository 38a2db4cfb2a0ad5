"""Shared pytest set-up. Fixtures live in tests/fixtures/, one module per area."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.checkpoints",
    "tests.fixtures.models",
]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """CLIs under test configure the root logger; give every test the state it started with."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {
        name: (lg.level, lg.handlers[:], lg.propagate)
        for name, lg in logging.Logger.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (lvl, hs, propagate) in loggers.items():
        lg = logging.getLogger(name)
        lg.setLevel(lvl)
        lg.handlers[:] = hs
        lg.propagate = propagate
