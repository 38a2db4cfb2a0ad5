"""Shared pytest set-up. Fixtures live in tests/fixtures/, one module per area."""

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.checkpoints",
    "tests.fixtures.models",
]
