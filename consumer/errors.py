"""Why the service stops, as exit codes an orchestrator (and a person) can act on.

The last line the service logs before a non-zero exit is one JSON object with ``exit_code``,
``exit`` (the name below) and ``reason``."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # stopped on SIGTERM/SIGINT after draining what it had taken
    INTERNAL = 1  # an unexpected error (a bug): the traceback is in the log
    CONFIG = 2  # bad settings or model directory, refused at start-up
    KAFKA_START = 3  # Kafka unreachable or authentication refused at start-up
    INFERENCE = 4  # inference kept failing (out of memory, a lost device) past its budget
    DELIVERY = 5  # outputs could not be delivered within NEWSCLF_DELIVERY_TIMEOUT_S
    FENCED = 6  # another instance took over this member's transactional or instance id


class FatalError(RuntimeError):
    """Stops the service with ``code``; nothing past the last acknowledged batch is committed."""

    def __init__(self, code: ExitCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class ConfigError(ValueError):
    """The settings contradict the cluster (say, a dead-letter topic too small for dead
    letters): refused at start-up with one line, exit code 2."""
